package cloudauth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// skewedService responds with InvalidTimeStamp.Expired, with its own clock in the
// Date header, to requests whose Timestamp is more than 15 minutes from it.
func skewedService(serverNow func() time.Time, code string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		now := serverNow()
		header := []string{"Date", now.UTC().Format(http.TimeFormat)}
		timestamp, err := time.Parse(timestampLayout, req.URL.Query().Get("Timestamp"))
		if err != nil {
			timestamp, err = time.Parse(timestampLayout, req.Header.Get("x-acs-date"))
		}
		if err != nil || timestamp.Sub(now).Abs() > 15*time.Minute {
			return respond(400, `{"Code":"`+code+`","Message":"timestamp expired"}`, header...)(req)
		}
		return respond(200, `{"Data":{"StatusCode":1}}`, header...)(req)
	}
}

func TestClockSkewCorrection(t *testing.T) {
	for _, code := range []string{"InvalidTimeStamp.Expired", "IllegalTimestamp"} {
		for _, version := range []SignatureVersion{SignatureV1, SignatureV3} {
			t.Run(code+" "+version.String(), func(t *testing.T) {
				serverNow := func() time.Time { return time.Now().Add(-2 * time.Hour) }
				m := newMockServer(t, skewedService(serverNow, code))
				client := newTestClient(t, m, WithMaxAttempts(1), WithSignatureVersion(version))

				resp, err := client.GetStatus(context.Background(), testRequest)
				require.NoError(t, err, "one extra attempt beyond WithMaxAttempts(1)")
				assert.Equal(t, StatusPassed, resp.StatusCode)
				assert.Equal(t, 2, m.count())
				assert.InDelta(t, (-2 * time.Hour).Seconds(),
					time.Duration(client.clockOffset.Load()).Seconds(), 5)

				_, err = client.GetStatus(context.Background(), testRequest)
				require.NoError(t, err)
				assert.Equal(t, 3, m.count(), "later calls sign with the corrected time at once")
			})
		}
	}
}

func TestClockSkewRetriedOncePerCall(t *testing.T) {
	var calls atomic.Int32
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		// Each response claims a different clock, so each looks correctable.
		n := calls.Add(1)
		date := time.Now().Add(time.Duration(n) * time.Hour).UTC().Format(http.TimeFormat)
		return respond(400, `{"Code":"InvalidTimeStamp.Expired"}`, "Date", date)(req)
	})
	client := newTestClient(t, m, WithMaxAttempts(1))
	_, err := client.GetStatus(context.Background(), testRequest)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "InvalidTimeStamp.Expired", apiErr.Code)
	assert.Equal(t, 2, m.count(), "at most one extra attempt")
}

func TestClockSkewWithoutDateIsNotRetried(t *testing.T) {
	m := newMockServer(t, respond(400, `{"Code":"InvalidTimeStamp.Expired"}`))
	client := newTestClient(t, m)
	_, err := client.GetStatus(context.Background(), testRequest)
	require.Error(t, err)
	assert.Equal(t, 1, m.count())
	assert.Zero(t, client.clockOffset.Load())
}

func TestClockSkewWithAccurateDateIsNotRetried(t *testing.T) {
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		return respond(400, `{"Code":"InvalidTimeStamp.Expired"}`,
			"Date", time.Now().UTC().Format(http.TimeFormat))(req)
	})
	client := newTestClient(t, m)
	_, err := client.GetStatus(context.Background(), testRequest)
	require.Error(t, err)
	assert.Equal(t, 1, m.count(), "the clock is right, so a retry cannot help")
}

func TestThrottlingTimeLeftIsLeastWait(t *testing.T) {
	var calls atomic.Int32
	var firstAt, secondAt time.Time
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			firstAt = time.Now()
			return respond(400, `{"Code":"Throttling.User"}`,
				"x-ratelimit-user-api", "Limit:10,Remain:0,TimeLeft:150,Reset:1")(req)
		}
		secondAt = time.Now()
		return respond(200, `{"Data":{"StatusCode":1}}`)(req)
	})
	client := newTestClient(t, m, WithBackoff(time.Millisecond, time.Second))
	_, err := client.GetStatus(context.Background(), testRequest)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, secondAt.Sub(firstAt), 150*time.Millisecond)
}

func TestThrottlingBeyondMaxBackoffReturnsAtOnce(t *testing.T) {
	m := newMockServer(t, respond(400, `{"Code":"Throttling.User"}`,
		"x-ratelimit-user", "Limit:1,Remain:0,TimeLeft:60000,Reset:1"))
	client := newTestClient(t, m, WithBackoff(time.Millisecond, time.Second))
	_, err := client.GetStatus(context.Background(), testRequest)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.Throttled())
	assert.Equal(t, 1, m.count())
}

func TestThrottlingBeyondDeadlineReturnsAtOnce(t *testing.T) {
	m := newMockServer(t, respond(400, `{"Code":"Throttling.Api"}`,
		"x-ratelimit-user-api", "TimeLeft:2000"))
	client := newTestClient(t, m, WithBackoff(time.Millisecond, 10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := client.GetStatus(ctx, testRequest)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "Throttling.Api", apiErr.Code)
	assert.Equal(t, 1, m.count())
	assert.NoError(t, ctx.Err(), "returned before the deadline")
}

func TestThrottleWaitParsing(t *testing.T) {
	tests := []struct {
		api, user string
		want      time.Duration
	}{
		{"", "", 0},
		{"Limit:1,Remain:0,TimeLeft:2000,Reset:1234", "", 2 * time.Second},
		{"TimeLeft:5", "TimeLeft:3", 5 * time.Millisecond},
		{"", "Limit:1, TimeLeft: 40 ,Reset:1", 40 * time.Millisecond},
		{"TimeLeft:abc", "", 0},
		{"TimeLeft:-5", "", 0},
		{"TimeLeft:99999999999999999999", "", 0},
		{"TimeLeft:999999999999", "", 24 * time.Hour},
		{"garbage", "::,,", 0},
	}
	for _, tt := range tests {
		header := http.Header{}
		header.Set("x-ratelimit-user-api", tt.api)
		header.Set("x-ratelimit-user", tt.user)
		assert.Equal(t, tt.want, throttleWait(header), "%q %q", tt.api, tt.user)
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	client, err := NewClient(WithAccessKey(testKeyID, testSecret), WithBackoff(100*time.Millisecond, time.Second))
	require.NoError(t, err)
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for i := 0; i < 50; i++ {
			wait := client.backoff(attempt)
			assert.GreaterOrEqual(t, wait, ceiling/2)
			assert.LessOrEqual(t, wait, ceiling)
		}
	}
}

func TestAttemptTimeoutRetriesSlowAnswers(t *testing.T) {
	var calls atomic.Int32
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return respond(200, `{"Data":{"StatusCode":2}}`)(req)
	})
	client := newTestClient(t, m, WithAttemptTimeout(50*time.Millisecond))
	resp, err := client.GetStatus(context.Background(), testRequest)
	require.NoError(t, err)
	assert.Equal(t, StatusRejected, resp.StatusCode)
	assert.Equal(t, 2, m.count())
}

func TestLoggingRetriesAndFailures(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := newMockServer(t, func(req *http.Request) (*http.Response, error) {
		signature := req.URL.Query().Get("Signature")
		return respond(503, `{"Code":"ServiceUnavailable","Message":"echo `+signature+` `+testToken+`","RequestId":"req-42"}`)(req)
	})
	client := newTestClient(t, m, WithLogger(logger))
	client.credentials = NewStaticCredentialsProvider(testKeyID, testSecret, testToken)
	_, err := client.GetStatus(context.Background(), testRequest)
	require.Error(t, err)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 3, "two retries and one final failure")
	assert.Contains(t, lines[0], `"level":"WARN"`)
	assert.Contains(t, lines[0], `"msg":"cloudauth: retrying"`)
	assert.Contains(t, lines[0], `"attempt":1`)
	assert.Contains(t, lines[0], `"code":"ServiceUnavailable"`)
	assert.Contains(t, lines[0], `"request_id":"req-42"`)
	assert.Contains(t, lines[0], `"wait":`)
	assert.Contains(t, lines[2], `"level":"ERROR"`)
	assert.Contains(t, lines[2], `"attempts":3`)

	for i := 0; i < m.count(); i++ {
		assert.NotContains(t, logs.String(), m.request(i).URL.Query().Get("Signature"))
	}
	assert.NotContains(t, logs.String(), testToken)
	assert.NotContains(t, logs.String(), testSecret)
}

func TestNoLoggingWithoutLogger(t *testing.T) {
	var logs bytes.Buffer
	saved := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(saved)

	m := newMockServer(t, respond(503, ""))
	_, err := newTestClient(t, m).GetStatus(context.Background(), testRequest)
	require.Error(t, err)
	assert.Empty(t, logs.String())
}

func TestLogValuesHideSecrets(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	creds := Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret, SecurityToken: testToken}
	provider := NewStaticCredentialsProvider(testKeyID, testSecret, testToken)
	client, err := NewClient(WithCredentials(provider))
	require.NoError(t, err)
	logger.Info("values", "creds", creds, "provider", provider, "client", client)
	assert.Contains(t, logs.String(), testKeyID)
	assert.NotContains(t, logs.String(), testSecret)
	assert.NotContains(t, logs.String(), testToken)
}
