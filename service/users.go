package service

import (
	"time"

	"github.com/nextsecure/nextsecure/db"
)

// User is a user as the workflows show it: never a password hash or token.
type User struct {
	ID            string
	Name          *string
	Email         string
	EmailVerified *time.Time
	Image         *string
	IsActive      bool
	Role          string
	HasPassword   bool
	MFAEnabled    bool
	Accounts      []LinkedAccount
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// LinkedAccount is an OAuth provider linked to a user.
type LinkedAccount struct {
	Provider string
	Type     string
}

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

func linked(providers, types []string) []LinkedAccount {
	out := make([]LinkedAccount, len(providers))
	for i := range providers {
		out[i] = LinkedAccount{Provider: providers[i], Type: types[i]}
	}
	return out
}

func userFromProfile(r db.UserProfile) User {
	return User{
		ID: r.ID, Name: r.Name, Email: r.Email, EmailVerified: r.EmailVerified, Image: r.Image,
		IsActive: r.IsActive, Role: r.Role, HasPassword: r.HasPassword, MFAEnabled: r.MfaEnabled,
		Accounts:  linked(r.AccountProviders, r.AccountTypes),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}
