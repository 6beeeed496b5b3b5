package cloudauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// StatusCode is the verification state of a ticket, as GetStatus reports it
// in Data.StatusCode.
type StatusCode int

// The verification states the service documents.
const (
	// StatusNotSubmitted means the service has no submission for the ticket.
	StatusNotSubmitted StatusCode = -1
	// StatusInReview means a submission is being reviewed.
	StatusInReview StatusCode = 0
	// StatusPassed means the verification passed and the task is finished.
	StatusPassed StatusCode = 1
	// StatusRejected means the latest submission failed review. The user may
	// submit again, so a later poll can report a different state.
	StatusRejected StatusCode = 2
)

// String returns the constant's name without the "Status" prefix, such as
// "Passed", or "StatusCode(3)" for a value the service does not document.
func (s StatusCode) String() string {
	switch s {
	case StatusNotSubmitted:
		return "NotSubmitted"
	case StatusInReview:
		return "InReview"
	case StatusPassed:
		return "Passed"
	case StatusRejected:
		return "Rejected"
	}
	return "StatusCode(" + strconv.Itoa(int(s)) + ")"
}

// IsKnown reports whether s is one of the four documented states.
func (s StatusCode) IsKnown() bool {
	return s >= StatusNotSubmitted && s <= StatusRejected
}

// IsFinal reports whether s is a verdict: StatusPassed or StatusRejected.
// Undocumented values are not final, so a poller keeps asking.
func (s StatusCode) IsFinal() bool {
	return s == StatusPassed || s == StatusRejected
}

// Format is the response format the client asks the service for with the
// Format query parameter. The client decodes either format whatever it asked
// for, because it detects the format from the body.
type Format string

// The response formats the service offers.
const (
	FormatJSON Format = "JSON"
	FormatXML  Format = "XML"
)

func (f Format) valid() bool {
	return f == FormatJSON || f == FormatXML
}

// acceptHeader returns the media type that matches f.
func (f Format) acceptHeader() string {
	if f == FormatXML {
		return "application/xml"
	}
	return "application/json"
}

// The flex types below decode values that the service, or a gateway in front
// of it, sends either bare or quoted: 1 and "1", 93.12 and "93.12", true and
// "true". Each implements json.Unmarshaler for JSON bodies and
// encoding.TextUnmarshaler for XML character data. The set flag distinguishes
// a missing value from a zero one.

// flexInt is an integer that may arrive quoted.
type flexInt struct {
	value int64
	set   bool
}

func (n *flexInt) UnmarshalJSON(data []byte) error {
	text, isNull, err := scalarText(data)
	if err != nil || isNull {
		return err
	}
	return n.UnmarshalText(text)
}

func (n *flexInt) UnmarshalText(text []byte) error {
	text = bytes.TrimSpace(text)
	value, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil {
		// A whole-valued float such as 1.0 is still an integer.
		f, ferr := strconv.ParseFloat(string(text), 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("invalid integer %q", truncate(string(text), 40))
		}
		value = int64(f)
	}
	n.value, n.set = value, true
	return nil
}

// flexFloat is a floating-point number that may arrive quoted. An empty
// string decodes as unset, since the service leaves SimilarityScore empty
// when a submission had no face photo.
type flexFloat struct {
	value float64
	set   bool
}

func (n *flexFloat) UnmarshalJSON(data []byte) error {
	text, isNull, err := scalarText(data)
	if err != nil || isNull {
		return err
	}
	return n.UnmarshalText(text)
}

func (n *flexFloat) UnmarshalText(text []byte) error {
	text = bytes.TrimSpace(text)
	if len(text) == 0 {
		return nil
	}
	value, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsNaN(value) || math.IsInf(value, 0) {
		return fmt.Errorf("invalid number %q", truncate(string(text), 40))
	}
	n.value, n.set = value, true
	return nil
}

// flexBool is a boolean that may arrive quoted.
type flexBool struct {
	value bool
	set   bool
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	text, isNull, err := scalarText(data)
	if err != nil || isNull {
		return err
	}
	return b.UnmarshalText(text)
}

func (b *flexBool) UnmarshalText(text []byte) error {
	text = bytes.TrimSpace(text)
	if len(text) == 0 {
		return nil
	}
	value, err := strconv.ParseBool(string(text))
	if err != nil {
		return fmt.Errorf("invalid boolean %q", truncate(string(text), 40))
	}
	b.value, b.set = value, true
	return nil
}

// flexString is a string that tolerates a number, boolean or null in its
// place, as error bodies sometimes carry a numeric Code or RequestId. An
// object or array decodes as an empty string instead of failing the body.
type flexString string

func (s *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case '"':
		// A string without escapes is its value between the quotes, so only
		// other strings need json.Unmarshal, which allocates a decoder.
		if inner, ok := unescapedJSONString(data); ok {
			*s = flexString(inner)
			return nil
		}
		var text string
		if err := json.Unmarshal(data, &text); err != nil {
			return err
		}
		*s = flexString(text)
	case '{', '[', 'n':
		*s = ""
	default:
		*s = flexString(data)
	}
	return nil
}

// unescapedJSONString returns the text between the quotes of the JSON
// string data when decoding it would change nothing: data is quoted and the
// text is valid UTF-8 without a backslash, quote or control character.
func unescapedJSONString(data []byte) ([]byte, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return nil, false
	}
	inner := data[1 : len(data)-1]
	for _, b := range inner {
		if b == '\\' || b == '"' || b < ' ' {
			return nil, false
		}
	}
	return inner, utf8.Valid(inner)
}

// scalarText returns the text of a JSON number, boolean or string, unquoting
// a string. isNull reports a JSON null, which leaves the target unset.
func scalarText(data []byte) (text []byte, isNull bool, err error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, true, nil
	}
	switch data[0] {
	case 'n':
		return nil, true, nil
	case '"':
		if bytes.IndexByte(data[1:len(data)-1], '\\') < 0 {
			return data[1 : len(data)-1], false, nil
		}
		var unquoted string
		if err := json.Unmarshal(data, &unquoted); err != nil {
			return nil, false, err
		}
		return []byte(unquoted), false, nil
	case '{', '[':
		return nil, false, fmt.Errorf("expected a number, boolean or string, found %s",
			truncate(strings.TrimSpace(string(data)), 40))
	}
	return data, false, nil
}

// truncate shortens s to at most limit bytes, cutting at a rune boundary and
// marking the cut with an ellipsis.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
