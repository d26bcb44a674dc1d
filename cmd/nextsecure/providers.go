package main

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/nextsecure/nextsecure/service"
)

// loadProviders reads the sign-in providers: GitHub when GITHUB_CLIENT_ID
// or GITHUB_CLIENT_SECRET is set (then both must be), and each id of
// OIDC_PROVIDERS from OIDC_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET and the
// optional _NAME and _SCOPES. Each error is one line naming the variable;
// none repeats a secret.
func loadProviders(env lookup) ([]service.ProviderConfig, error) {
	var out []service.ProviderConfig
	id, secret := strings.TrimSpace(env("GITHUB_CLIENT_ID")), strings.TrimSpace(env("GITHUB_CLIENT_SECRET"))
	switch {
	case id == "" && secret != "":
		return nil, errors.New("GITHUB_CLIENT_ID is not set, but GITHUB_CLIENT_SECRET is: set both to enable GitHub")
	case id != "" && secret == "":
		return nil, errors.New("GITHUB_CLIENT_SECRET is not set, but GITHUB_CLIENT_ID is: set both to enable GitHub")
	}
	web, err := providerURL("GITHUB_URL", env("GITHUB_URL"), "https://github.com")
	if err != nil {
		return nil, err
	}
	api, err := providerURL("GITHUB_API_URL", env("GITHUB_API_URL"), "https://api.github.com")
	if err != nil {
		return nil, err
	}
	if id != "" {
		out = append(out, service.ProviderConfig{
			ID: "github", Type: service.ProviderTypeOAuth, Name: "GitHub",
			ClientID: id, ClientSecret: secret, WebURL: web, APIURL: api,
		})
	}
	seen := map[string]bool{"github": id != ""}
	for _, pid := range strings.Split(env("OIDC_PROVIDERS"), ",") {
		pid = strings.TrimSpace(pid)
		if pid == "" {
			continue
		}
		if !validProviderID(pid) {
			return nil, fmt.Errorf("OIDC_PROVIDERS: id %q: use lowercase letters, digits and '-', at most 64", pid)
		}
		if seen[pid] {
			return nil, fmt.Errorf("OIDC_PROVIDERS: id %q appears twice (or is GitHub's)", pid)
		}
		seen[pid] = true
		prefix := "OIDC_" + strings.ToUpper(strings.ReplaceAll(pid, "-", "_")) + "_"
		p := service.ProviderConfig{ID: pid, Type: service.ProviderTypeOIDC, Name: pid,
			Scopes: []string{"openid", "email", "profile"}}
		for _, v := range []struct {
			name string
			dst  *string
		}{{"ISSUER", &p.Issuer}, {"CLIENT_ID", &p.ClientID}, {"CLIENT_SECRET", &p.ClientSecret}} {
			*v.dst = strings.TrimSpace(env(prefix + v.name))
			if *v.dst == "" {
				return nil, fmt.Errorf("%s%s is not set (OIDC_PROVIDERS lists %q)", prefix, v.name, pid)
			}
		}
		// The issuer is compared byte for byte with the discovery
		// document's and the ID tokens' iss, so it is kept as written.
		if _, err := providerURL(prefix+"ISSUER", p.Issuer, ""); err != nil {
			return nil, err
		}
		if name := strings.TrimSpace(env(prefix + "NAME")); name != "" {
			if len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return nil, fmt.Errorf("%sNAME: want at most 100 characters without control characters", prefix)
			}
			p.Name = name
		}
		if scopes := env(prefix + "SCOPES"); strings.TrimSpace(scopes) != "" {
			p.Scopes = strings.FieldsFunc(scopes, func(r rune) bool { return r == ' ' || r == ',' })
			// The rules need the email and whether it is verified.
			if !slices.Contains(p.Scopes, "openid") || !slices.Contains(p.Scopes, "email") {
				return nil, fmt.Errorf("%sSCOPES: must include openid and email, got %q", prefix, scopes)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// validProviderID: lowercase letters, digits and '-', 1 to 64 of them.
func validProviderID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// providerURL checks a provider's URL: absolute http or https with a host,
// no user, query or fragment. Plain http is allowed (a test provider on
// loopback, a lab Keycloak); the operator chooses.
func providerURL(name, raw, def string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return def, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s: want an absolute http or https URL, got %q", name, raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("%s: must not hold a user or password", name)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#") {
		return "", fmt.Errorf("%s: must not have a query or fragment, got %q", name, raw)
	}
	return s, nil
}
