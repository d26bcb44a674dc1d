-- Two more token purposes: a magic sign-in link (bound to the user, its
-- identifier the address it was sent to) and an email change confirmation
-- (bound to the user, its identifier the new address it confirms).

-- +goose Up
ALTER TABLE verification_tokens DROP CONSTRAINT verification_tokens_purpose_check;
ALTER TABLE verification_tokens ADD CONSTRAINT verification_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'magic_link', 'change_email'));

-- +goose Down
DELETE FROM verification_tokens WHERE purpose IN ('magic_link', 'change_email');
ALTER TABLE verification_tokens DROP CONSTRAINT verification_tokens_purpose_check;
ALTER TABLE verification_tokens ADD CONSTRAINT verification_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password'));
