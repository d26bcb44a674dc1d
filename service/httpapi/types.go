package httpapi

import (
	"time"

	"github.com/nextsecure/nextsecure/service"
)

// userJSON is the user object of the contract. It never carries a password
// hash or an OAuth token.
type userJSON struct {
	ID            string        `json:"id"`
	Name          *string       `json:"name"`
	Email         string        `json:"email"`
	EmailVerified *time.Time    `json:"emailVerified"`
	Image         *string       `json:"image"`
	IsActive      bool          `json:"isActive"`
	Role          string        `json:"role"`
	HasPassword   bool          `json:"hasPassword"`
	MFAEnabled    bool          `json:"mfaEnabled"`
	Accounts      []accountJSON `json:"accounts"`
	CreatedAt     time.Time     `json:"createdAt"`
	UpdatedAt     time.Time     `json:"updatedAt"`
}

type accountJSON struct {
	Provider string `json:"provider"`
	Type     string `json:"type"`
}

func toUserJSON(u service.User) userJSON {
	accounts := make([]accountJSON, len(u.Accounts))
	for i, acc := range u.Accounts {
		accounts[i] = accountJSON(acc)
	}
	return userJSON{
		ID: u.ID, Name: u.Name, Email: u.Email, EmailVerified: utcPtr(u.EmailVerified), Image: u.Image,
		IsActive: u.IsActive, Role: u.Role, HasPassword: u.HasPassword, MFAEnabled: u.MFAEnabled, Accounts: accounts,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
}

// sessionJSON is a new session as its owner sees it, once.
type sessionJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// authResponse answers a sign-in: the user and their new session.
type authResponse struct {
	User    userJSON    `json:"user"`
	Session sessionJSON `json:"session"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
