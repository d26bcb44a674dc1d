package service

import (
	"context"
	"net/netip"
	"time"

	"github.com/nextsecure/nextsecure/db"
)

// Limit is a fixed-window throttle: at most Max events per Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// Throttles of the contract.
var (
	// limitPerIP bounds each public auth route per client address.
	limitPerIP = Limit{Max: 100, Window: 5 * time.Minute}
	// limitMail allows one verification or reset mail a minute per address.
	limitMail = Limit{Max: 1, Window: time.Minute}
	// limitNotice allows one "account exists" notice an hour per address.
	limitNotice = Limit{Max: 1, Window: time.Hour}
	// limitFailedLogins locks an account's sign-in for the rest of the
	// window after 10 failures within 15 minutes.
	limitFailedLogins = Limit{Max: 10, Window: 15 * time.Minute}
)

// hit counts one event against key and reports whether it is within l. When
// rate limits are off it always allows and writes nothing.
func (s *Service) hit(ctx context.Context, q *db.Queries, key string, l Limit) (allowed bool, retryAfter time.Duration, err error) {
	if !s.cfg.RateLimits {
		return true, 0, nil
	}
	now := s.now()
	row, err := q.HitRateLimit(ctx, db.HitRateLimitParams{Key: key, Now: now, WindowFloor: now.Add(-l.Window)})
	if err != nil {
		return false, 0, err
	}
	if int(row.Count) <= l.Max {
		return true, 0, nil
	}
	return false, row.WindowStart.Add(l.Window).Sub(now), nil
}

// ThrottleIP counts one request of route from a client address and fails
// with CodeRateLimited past the per-address limit. IPv6 clients are
// counted by their /64 (see clientKey).
// Errors: CodeRateLimited, CodeUnavailable.
func (s *Service) ThrottleIP(ctx context.Context, route, ip string) error {
	ok, retry, err := s.hit(ctx, s.q, "ip:"+route+":"+clientKey(ip), limitPerIP)
	if err != nil {
		return translate(err)
	}
	if !ok {
		return rateLimited(retry)
	}
	return nil
}

// clientKey is what per-address limits count a client address by: an IPv4
// address as it is (an IPv4-mapped IPv6 address as its IPv4 address), an
// IPv6 address by its /64. A /64 is the smallest block an ISP or a cloud
// provider assigns one subscriber or host (RFC 6177, RFC 7421: SLAAC needs
// it), so a single host can hold 2^64 addresses and rotate through them; it
// cannot rotate through /64s. Anything that does not parse is used as it is.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func rateLimited(retry time.Duration) *Error {
	if retry < time.Second {
		retry = time.Second
	}
	return &Error{Code: CodeRateLimited, Message: "Too many requests; try again later.", RetryAfter: retry}
}
