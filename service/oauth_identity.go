package service

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// flexBool reads a JSON boolean, or the strings "true" and "false" that
// some providers send for email_verified; present tells whether it was there.
type flexBool struct {
	value, present bool
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case bool:
		*b = flexBool{value: t, present: true}
	case string:
		ok, err := strconv.ParseBool(t)
		if err != nil {
			return fmt.Errorf("email_verified %q is not a boolean", t)
		}
		*b = flexBool{value: ok, present: true}
	case nil:
	default:
		return fmt.Errorf("email_verified is not a boolean")
	}
	return nil
}

// oidcClaims are the standard claims the rules use.
type oidcClaims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified flexBool `json:"email_verified"`
	Name          string   `json:"name"`
	Picture       string   `json:"picture"`
}

// oidcIdentity verifies the ID token of an exchange (signature against the
// provider's keys, issuer, audience, expiry, through go-oidc; the nonce
// against the flow's here) and reads the identity from it, asking the
// userinfo endpoint for what it lacks (whose sub must match).
func (s *Service) oidcIdentity(ctx context.Context, p *provider, tok *oauth2.Token, nonce string) (identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return identity{}, oauthErr(CodeOAuthFailed, "token response without id_token")
	}
	p.mu.RLock()
	verifier, op := p.verifier, p.oidc
	p.mu.RUnlock()
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return identity{}, oauthErr(CodeOAuthFailed, "ID token refused: %v", err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return identity{}, oauthErr(CodeOAuthFailed, "ID token nonce is not the flow's")
	}
	var c oidcClaims
	if err := idt.Claims(&c); err != nil {
		return identity{}, oauthErr(CodeOAuthFailed, "ID token claims: %v", err)
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return identity{}, oauthErr(CodeOAuthFailed, "ID token without a usable sub")
	}
	id := identity{AccountID: idt.Subject, Email: c.Email, EmailVerified: c.EmailVerified.value,
		Name: c.Name, Image: c.Picture, IDToken: raw}
	lacksEmail := c.Email == "" || !c.EmailVerified.present
	if (lacksEmail || c.Name == "" || c.Picture == "") && op.UserInfoEndpoint() != "" {
		ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		var u oidcClaims
		if err == nil {
			err = ui.Claims(&u)
		}
		switch {
		case err != nil && lacksEmail:
			return identity{}, oauthErr(CodeOAuthFailed, "userinfo: %v", err)
		case err != nil:
			s.log.WarnContext(ctx, "OIDC userinfo failed; name or picture left out", "provider", p.cfg.ID, "err", err)
		case u.Subject != idt.Subject:
			return identity{}, oauthErr(CodeOAuthFailed, "userinfo sub does not match the ID token's")
		default:
			if lacksEmail {
				// Email and its verification come together, from one source.
				id.Email, id.EmailVerified = u.Email, u.EmailVerified.value
			}
			if id.Name == "" {
				id.Name = u.Name
			}
			if id.Image == "" {
				id.Image = u.Picture
			}
		}
	}
	return id, nil
}

// githubUser is the part of GitHub's GET /user the rules use.
type githubUser struct {
	ID        json.Number `json:"id"`
	Login     string      `json:"login"`
	Name      string      `json:"name"`
	AvatarURL string      `json:"avatar_url"`
}

type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// githubIdentity reads GitHub's GET /user and GET /user/emails: the
// numeric id, name (or login), avatar, and the primary address if verified.
func githubIdentity(ctx context.Context, p *provider, tok *oauth2.Token) (identity, error) {
	api := strings.TrimRight(stringOr(p.cfg.APIURL, "https://api.github.com"), "/")
	var u githubUser
	if err := githubGet(ctx, p, tok, api+"/user", &u); err != nil {
		return identity{}, err
	}
	if _, err := strconv.ParseInt(u.ID.String(), 10, 64); err != nil {
		return identity{}, oauthErr(CodeOAuthFailed, "GitHub /user without a numeric id")
	}
	var emails []githubEmail
	if err := githubGet(ctx, p, tok, api+"/user/emails", &emails); err != nil {
		return identity{}, err
	}
	id := identity{AccountID: u.ID.String(), Name: stringOr(u.Name, u.Login), Image: u.AvatarURL}
	for _, e := range emails {
		if e.Primary {
			id.Email, id.EmailVerified = e.Email, e.Verified
			break
		}
	}
	return id, nil
}

func githubGet(ctx context.Context, p *provider, tok *oauth2.Token, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return oauthErr(CodeOAuthFailed, "GitHub request: %v", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := p.client.Do(req)
	if err != nil {
		return oauthErr(CodeOAuthFailed, "GitHub %s: %s", req.URL.Path, truncate(err.Error(), 200))
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return oauthErr(CodeOAuthFailed, "GitHub %s: %v", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return oauthErr(CodeOAuthFailed, "GitHub %s: status %d", req.URL.Path, resp.StatusCode)
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return oauthErr(CodeOAuthFailed, "GitHub %s: %v", req.URL.Path, err)
	}
	return nil
}
