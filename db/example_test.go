package db_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

// exampleURL is a migrated database for the examples.
var exampleURL string

func TestMain(m *testing.M) {
	dsn, drop, err := testdb.Create(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	exampleURL = dsn
	code := m.Run()
	drop()
	os.Exit(code)
}

// A program creates a user and its credential in one transaction, then
// finds the user by email, whatever its case.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, exampleURL)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		name := "Ada Lovelace"
		user, err := q.CreateUser(ctx, db.CreateUserParams{
			ID: "user-1", Name: &name, Email: "ada@example.com", IsActive: true, Role: "user",
		})
		if err != nil {
			return err
		}
		_, err = q.CreateCredential(ctx, db.CreateCredentialParams{
			ID: "cred-1", UserID: user.ID, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$...",
		})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	q := db.New(pool)
	profile, err := q.GetUserProfile(ctx, "user-1")
	if err != nil {
		log.Fatal(err)
	}
	user, err := q.GetUserByEmail(ctx, "ADA@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.ID, *user.Name, user.IsActive, profile.HasPassword)
	// Output: user-1 Ada Lovelace true true
}
