package main

import (
	"strings"
	"testing"
	"time"
)

// AUDIT_RETENTION sets how long auth_events are kept: 400 days unless set,
// a Go duration when set, and a malformed or non-positive one is refused.
func TestAuditRetentionSetting(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", 400 * 24 * time.Hour, false},
		{"720h", 720 * time.Hour, false},
		{"a year", 0, true},
		{"0s", 0, true},
		{"-1h", 0, true},
	} {
		t.Run(tt.value, func(t *testing.T) {
			var c config
			err := c.load(lookup(mapEnv(map[string]string{"AUDIT_RETENTION": tt.value})))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "AUDIT_RETENTION") {
					t.Fatalf("load = %v, want an error naming AUDIT_RETENTION", err)
				}
				return
			}
			if err != nil || c.AuditRetention != tt.want {
				t.Errorf("AuditRetention = %v (%v), want %v", c.AuditRetention, err, tt.want)
			}
		})
	}
}
