package cloudauth

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFlexStringMatchesEncodingJSON(t *testing.T) {
	// Plain strings take a shortcut past encoding/json, so every kind of
	// string literal must decode exactly as encoding/json decodes it.
	literals := []string{
		`""`,
		`"RPBasic"`,
		`"不通过原因"`,
		`"quote \" inside"`,
		`"back\\slash"`,
		`"line\nbreak"`,
		`"\u00e9t\u00e9"`,
		`"\ud83d\ude00"`,
		"\"invalid \xff utf-8\"",
		"\"raw\ttab\"",
		`"a"b"`,
		`"unterminated`,
		`"`,
	}
	for _, literal := range literals {
		t.Run(literal, func(t *testing.T) {
			var want string
			wantErr := json.Unmarshal([]byte(literal), &want)

			var got flexString
			gotErr := got.UnmarshalJSON([]byte(literal))

			assert.Equal(t, wantErr != nil, gotErr != nil, "error: encoding/json %v, flexString %v", wantErr, gotErr)
			assert.Equal(t, want, string(got))
		})
	}
}

func TestFlexStringInsideDocument(t *testing.T) {
	var body errorBody
	err := json.Unmarshal([]byte(`{"RequestId":"plain-id","Code":"Esc\u0061ped","Message":"多字节"}`), &body)

	assert.NoError(t, err)
	assert.Equal(t, flexString("plain-id"), body.RequestID)
	assert.Equal(t, flexString("Escaped"), body.Code)
	assert.Equal(t, flexString("多字节"), body.Message)
}
