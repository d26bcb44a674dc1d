package service

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

func TestClientKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:0DB8:0001:0002:0:0:0:1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
		{"", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := clientKey(tt.in); got != tt.want {
				t.Errorf("got clientKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestThrottleIPv6By64 checks that addresses of one IPv6 /64 share the
// per-address limit, so a host cannot rotate through its addresses, while
// other /64s and IPv4 addresses have their own.
func TestThrottleIPv6By64(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testdb.New(t), DefaultConfig(), time.Now, slog.New(slog.DiscardHandler))
	exhaust := func(ip string) {
		t.Helper()
		for i := range limitPerIP.Max {
			if err := s.ThrottleIP(ctx, "login", ip); err != nil {
				t.Fatalf("request %d from %s: got %v, want it allowed", i+1, ip, err)
			}
		}
	}
	for _, tt := range []struct {
		name, used, other string
		shared            bool
	}{
		{"same /64", "2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", true},
		{"other /64", "2001:db8:1:3::1", "2001:db8:1:4::1", false},
		{"IPv4 and its mapped form", "192.0.2.1", "::ffff:192.0.2.1", true},
		{"IPv4 neighbours", "192.0.2.10", "192.0.2.11", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exhaust(tt.used)
			err := s.ThrottleIP(ctx, "login", tt.other)
			if got := ErrorCode(err) == CodeRateLimited; got != tt.shared {
				t.Errorf("after %d requests from %s, one from %s: got %v, want limited=%v", limitPerIP.Max, tt.used, tt.other, err, tt.shared)
			}
		})
	}
}
