package cloudauth

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// TODO: replaced by the credential chain and cache on the creds branch.

type credentialsCache struct{ provider CredentialsProvider }

func newCredentialsCache(provider CredentialsProvider, _ *slog.Logger, _ func() time.Time) *credentialsCache {
	return &credentialsCache{provider}
}

func (c *credentialsCache) Retrieve(ctx context.Context) (Credentials, error) {
	return c.provider.Retrieve(ctx)
}

func NewDefaultCredentialsProvider() CredentialsProvider {
	return CredentialsProviderFunc(func(context.Context) (Credentials, error) {
		return Credentials{}, errors.New("no credentials")
	})
}
