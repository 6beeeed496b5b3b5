package cloudauth

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnvProviderReadsVariables(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envAccessKeyID, "env-id")
	t.Setenv(envAccessKeySecret, testSourceSecret)
	t.Setenv(envSecurityToken, testSourceToken)

	creds, err := NewEnvCredentialsProvider().Retrieve(context.Background())

	require.NoError(t, err)
	require.Equal(t, "env-id", creds.AccessKeyID)
	require.Equal(t, testSourceSecret, creds.AccessKeySecret)
	require.Equal(t, testSourceToken, creds.SecurityToken)
	require.True(t, creds.Expires.IsZero())
}

func TestEnvProviderUnsetIsNotConfigured(t *testing.T) {
	isolateCredentialsEnv(t)

	_, err := NewEnvCredentialsProvider().Retrieve(context.Background())

	require.Error(t, err)
	require.True(t, isNotConfigured(err))
	require.ErrorContains(t, err, "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set")
}

func TestEnvProviderHalfSetFails(t *testing.T) {
	isolateCredentialsEnv(t)
	t.Setenv(envAccessKeySecret, testSourceSecret)

	_, err := NewEnvCredentialsProvider().Retrieve(context.Background())

	require.Error(t, err)
	require.False(t, isNotConfigured(err))
	require.ErrorContains(t, err, "ALIBABA_CLOUD_ACCESS_KEY_ID is empty")
	requireNoSecret(t, err.Error())
}
