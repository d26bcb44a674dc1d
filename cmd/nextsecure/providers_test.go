package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/service"
)

func TestLoadProviders(t *testing.T) {
	t.Parallel()
	gh := service.ProviderConfig{ID: "github", Type: "oauth", Name: "GitHub", ClientID: "gid", ClientSecret: "gsecret",
		WebURL: "https://github.com", APIURL: "https://api.github.com"}
	corp := service.ProviderConfig{ID: "corp-sso", Type: "oidc", Name: "corp-sso", ClientID: "cid", ClientSecret: "csecret",
		Issuer: "https://sso.example.com/realms/corp", Scopes: []string{"openid", "email", "profile"}}
	corpEnv := map[string]string{"OIDC_PROVIDERS": "corp-sso", "OIDC_CORP_SSO_ISSUER": "https://sso.example.com/realms/corp",
		"OIDC_CORP_SSO_CLIENT_ID": "cid", "OIDC_CORP_SSO_CLIENT_SECRET": "csecret"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tt := range []struct {
		name    string
		env     map[string]string
		want    []service.ProviderConfig
		wantErr string
		secret  string
	}{
		{name: "none", env: nil, want: nil},
		{name: "github", env: map[string]string{"GITHUB_CLIENT_ID": "gid", "GITHUB_CLIENT_SECRET": "gsecret"},
			want: []service.ProviderConfig{gh}},
		{name: "github enterprise", env: map[string]string{"GITHUB_CLIENT_ID": "gid", "GITHUB_CLIENT_SECRET": "gsecret",
			"GITHUB_URL": "https://ghe.example.com", "GITHUB_API_URL": "https://ghe.example.com/api/v3"},
			want: []service.ProviderConfig{{ID: "github", Type: "oauth", Name: "GitHub", ClientID: "gid", ClientSecret: "gsecret",
				WebURL: "https://ghe.example.com", APIURL: "https://ghe.example.com/api/v3"}}},
		{name: "github id only", env: map[string]string{"GITHUB_CLIENT_ID": "gid"}, wantErr: "GITHUB_CLIENT_SECRET is not set"},
		{name: "github secret only", env: map[string]string{"GITHUB_CLIENT_SECRET": "gsecret"}, wantErr: "GITHUB_CLIENT_ID is not set", secret: "gsecret"},
		{name: "github url", env: map[string]string{"GITHUB_URL": "github.com"}, wantErr: "GITHUB_URL: want an absolute http or https URL"},
		{name: "github api url query", env: map[string]string{"GITHUB_API_URL": "https://api.github.com/?x=1"}, wantErr: "GITHUB_API_URL: must not have a query"},
		{name: "oidc", env: corpEnv, want: []service.ProviderConfig{corp}},
		{name: "oidc and github", env: with(corpEnv, "GITHUB_CLIENT_ID", "gid", "GITHUB_CLIENT_SECRET", "gsecret"),
			want: []service.ProviderConfig{gh, corp}},
		{name: "oidc name and scopes", env: with(corpEnv, "OIDC_CORP_SSO_NAME", "Corp SSO", "OIDC_CORP_SSO_SCOPES", "openid email groups"),
			want: []service.ProviderConfig{{ID: "corp-sso", Type: "oidc", Name: "Corp SSO", ClientID: "cid", ClientSecret: "csecret",
				Issuer: "https://sso.example.com/realms/corp", Scopes: []string{"openid", "email", "groups"}}}},
		{name: "oidc list spaces", env: with(corpEnv, "OIDC_PROVIDERS", " corp-sso , "), want: []service.ProviderConfig{corp}},
		{name: "oidc scopes without openid", env: with(corpEnv, "OIDC_CORP_SSO_SCOPES", "email profile"), wantErr: "OIDC_CORP_SSO_SCOPES: must include openid and email"},
		{name: "oidc scopes without email", env: with(corpEnv, "OIDC_CORP_SSO_SCOPES", "openid profile"), wantErr: "OIDC_CORP_SSO_SCOPES: must include openid and email"},
		{name: "oidc bad id", env: with(corpEnv, "OIDC_PROVIDERS", "Corp"), wantErr: `OIDC_PROVIDERS: id "Corp": use lowercase letters`},
		{name: "oidc id with underscore", env: with(corpEnv, "OIDC_PROVIDERS", "corp_sso"), wantErr: `OIDC_PROVIDERS: id "corp_sso"`},
		{name: "oidc duplicate", env: with(corpEnv, "OIDC_PROVIDERS", "corp-sso,corp-sso"), wantErr: `OIDC_PROVIDERS: id "corp-sso" appears twice`},
		{name: "oidc github id clash", env: with(corpEnv, "OIDC_PROVIDERS", "github", "GITHUB_CLIENT_ID", "gid", "GITHUB_CLIENT_SECRET", "gsecret",
			"OIDC_GITHUB_ISSUER", "https://x.example", "OIDC_GITHUB_CLIENT_ID", "a", "OIDC_GITHUB_CLIENT_SECRET", "b"), wantErr: `OIDC_PROVIDERS: id "github" appears twice`},
		{name: "oidc missing issuer", env: with(corpEnv, "OIDC_CORP_SSO_ISSUER", ""), wantErr: "OIDC_CORP_SSO_ISSUER is not set"},
		{name: "oidc missing client id", env: with(corpEnv, "OIDC_CORP_SSO_CLIENT_ID", ""), wantErr: "OIDC_CORP_SSO_CLIENT_ID is not set"},
		{name: "oidc missing secret", env: with(corpEnv, "OIDC_CORP_SSO_CLIENT_SECRET", ""), wantErr: "OIDC_CORP_SSO_CLIENT_SECRET is not set"},
		{name: "oidc issuer not a URL", env: with(corpEnv, "OIDC_CORP_SSO_ISSUER", "sso.example.com"), wantErr: "OIDC_CORP_SSO_ISSUER: want an absolute http or https URL"},
		{name: "oidc issuer with password", env: with(corpEnv, "OIDC_CORP_SSO_ISSUER", "https://u:hunter2@sso.example.com"),
			wantErr: "OIDC_CORP_SSO_ISSUER: must not hold a user or password", secret: "hunter2"},
		{name: "oidc name control", env: with(corpEnv, "OIDC_CORP_SSO_NAME", "Corp\nSSO"), wantErr: "OIDC_CORP_SSO_NAME: want at most 100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadProviders(mapEnv(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("loadProviders = %+v, %v; want an error starting %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") || (tt.secret != "" && strings.Contains(err.Error(), tt.secret)) {
					t.Errorf("error %q spans lines or repeats the secret", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("loadProviders = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// A bad provider setting stops serve with its one-line error, before the
// database is touched.
func TestServeRefusesBadProviderSettings(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"serve"}, mapEnv(map[string]string{
		"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", "AUTH_SECRET": testAuthSecret,
		"OIDC_PROVIDERS": "corp",
	}), strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.HasPrefix(err.Error(), "OIDC_CORP_ISSUER is not set") {
		t.Fatalf("serve = %v, want an error starting OIDC_CORP_ISSUER is not set", err)
	}
}
