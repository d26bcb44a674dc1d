package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	sender := NewLog(slog.New(slog.NewTextHandler(&buf, nil)))

	if err := sender.Send(t.Context(), verifyMessage(t, testTo)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for _, want := range []string{"level=INFO", "to=" + testTo, SubjectVerifyEmail, testLink} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}

	tests := []struct {
		name string
		ctx  context.Context
		m    Message
		want error
	}{
		{"injected recipient", t.Context(), Message{To: "a@b.com\r\nBcc: x@y.com", Subject: "s", Text: "t"}, ErrInvalidMessage},
		{"cancelled", cancelled(t), Message{To: testTo, Subject: "s", Text: "t"}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			if err := sender.Send(tt.ctx, tt.m); !errors.Is(err, tt.want) {
				t.Errorf("got error %v, want %v", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("got log %q, want none", buf.String())
			}
		})
	}
}

// cancelled returns a context that is already cancelled.
func cancelled(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
