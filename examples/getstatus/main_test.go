package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// isolateCredentials hides every credential source of the default chain, so
// the example falls back to the fake endpoint and reaches no other host.
func isolateCredentials(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, name := range []string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
		"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
		"ALIBABA_CLOUD_CONFIG_FILE", "ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CREDENTIALS_FILE",
		"ALIBABA_CLOUD_CREDENTIALS_URI",
	} {
		t.Setenv(name, "")
	}
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
}

func TestRunPrintsPassedTicket(t *testing.T) {
	isolateCredentials(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"-biz", "RPBasic", "-ticket", "demo-passed"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "status:      Passed (1), final")
	assert.Contains(t, stdout.String(), "similarity:  93.12")
	assert.Contains(t, stderr.String(), "in-process fake endpoint at http://127.0.0.1:")
}

func TestRunPrintsJSON(t *testing.T) {
	isolateCredentials(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"-ticket", "demo-rejected", "-json"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	var result map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &result))
	assert.Equal(t, "Rejected", result["status"])
	assert.Equal(t, "ID photo is blurred", result["auditConclusions"])
	assert.Equal(t, true, result["final"])
}

func TestRunReportsErrors(t *testing.T) {
	isolateCredentials(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"unknown biz", []string{"-biz", "Other", "-ticket", "t"}, 1, "InvalidParam.InvalidBiz"},
		{"missing ticket", nil, 2, "-ticket is required"},
		{"blank ticket", []string{"-ticket", " "}, 1, "TicketID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.wantCode, run(tt.args, &stdout, &stderr))
			assert.Contains(t, stderr.String(), tt.want)
			assert.Empty(t, stdout.String())
		})
	}
}
