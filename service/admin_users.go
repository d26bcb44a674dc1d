package service

import (
	"context"

	"github.com/nextsecure/nextsecure/db"
)

// NewUserInput is an account made by an operator (nextsecure users create).
type NewUserInput struct {
	Email    string
	Name     string
	Role     string
	Password string
}

func validRole(role string) bool { return role == RoleUser || role == RoleAdmin }

// CreateUser makes an active, verified account with a password, for
// operators: the password policy applies as at sign-up. Any pending
// registration for the email is dropped.
// Errors: CodeValidation, CodeConflict (the email has an account), CodeUnavailable.
func (s *Service) CreateUser(ctx context.Context, in NewUserInput) (User, error) {
	name, nameErr := normalizeName(in.Name)
	email, emailErr := emailField(in.Email)
	var roleErr *FieldError
	if in.Role == "" {
		in.Role = RoleUser
	}
	if !validRole(in.Role) {
		roleErr = &FieldError{Field: "role", Code: "invalid", Message: "Use user or admin."}
	}
	if err := validation(nameErr, emailErr, roleErr, passwordField("password", in.Password, email, name)); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return User{}, err
	}
	var user User
	err = s.tx(ctx, func(q *db.Queries) error {
		if err := q.LockEmail(ctx, email); err != nil {
			return err
		}
		now := s.now()
		row, err := q.CreateUser(ctx, db.CreateUserParams{
			ID: newID(now), Name: &name, Email: email, EmailVerified: &now, IsActive: true, Role: in.Role,
		})
		if err != nil {
			if ErrorCode(translate(err)) == CodeConflict {
				return Errorf(CodeConflict, "An account with that email already exists.")
			}
			return err
		}
		if _, err := q.CreateCredential(ctx, db.CreateCredentialParams{ID: newID(now), UserID: row.ID, PasswordHash: hash}); err != nil {
			return err
		}
		if pre, err := q.GetPreregistrationByEmail(ctx, email); err == nil {
			if _, err := q.DeletePreregistration(ctx, pre.ID); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, q, row.ID, "", "user_created", Meta{}, "by operator; role "+in.Role); err != nil {
			return err
		}
		p, err := q.GetUserProfile(ctx, row.ID)
		user = userFromProfile(p)
		return err
	})
	return user, err
}

// SetRoleByEmail sets the role of the account with email, for operators.
// Errors: CodeValidation, CodeNotFound, CodeUnavailable.
func (s *Service) SetRoleByEmail(ctx context.Context, emailIn, role string) (User, error) {
	email, emailErr := emailField(emailIn)
	var roleErr *FieldError
	if !validRole(role) {
		roleErr = &FieldError{Field: "role", Code: "invalid", Message: "Use user or admin."}
	}
	if err := validation(emailErr, roleErr); err != nil {
		return User{}, err
	}
	var user User
	err := s.tx(ctx, func(q *db.Queries) error {
		if err := q.LockAdmins(ctx); err != nil {
			return err
		}
		before, err := q.GetUserByEmail(ctx, email)
		if err != nil {
			return err
		}
		if before.Role == RoleAdmin && role != RoleAdmin && before.IsActive {
			if err := s.requireOtherAdmin(ctx, q); err != nil {
				return err
			}
		}
		row, err := q.SetUserRoleByEmail(ctx, db.SetUserRoleByEmailParams{Email: email, Role: role})
		if err != nil {
			return err
		}
		if err := s.audit(ctx, q, row.ID, "", "role_changed", Meta{}, "by operator; role "+role); err != nil {
			return err
		}
		p, err := q.GetUserProfile(ctx, row.ID)
		user = userFromProfile(p)
		return err
	})
	if ErrorCode(err) == CodeNotFound {
		return User{}, Errorf(CodeNotFound, "No account has that email.")
	}
	return user, err
}
