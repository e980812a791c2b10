package cors

import (
	"net/http/httptest"
	"testing"
)

func TestCheckScriptRequest(t *testing.T) {
	policy, err := New(Options{Origins: []string{"https://app.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		policy *Policy
		header map[string]string
		want   bool
	}{
		{"a script tag on an allowed page", policy, map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://app.example/chat"}, true},
		{"a script tag on another site", policy, map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"}, false},
		{"another site that hides its Referer", policy, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"a sibling subdomain that hides its Referer", policy, map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"a page of the server's own origin", nil, map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"the server's own host in the Referer, no policy", nil, map[string]string{"Referer": "http://socket.example/page"}, true},
		{"another host in the Referer, no policy", nil, map[string]string{"Referer": "https://app.example/"}, false},
		{"a Referer that is not a URL", policy, map[string]string{"Referer": "app.example"}, false},
		{"an old browser that sends neither header", policy, map[string]string{}, true},
		{"a form POST from another site", policy, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Referer": "https://app.example/"}, false},
		{"a form POST from the allowed page", policy, map[string]string{"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://socket.example/socket.io/?EIO=3&transport=polling&j=0", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			if got := tc.policy.CheckScriptRequest(r); got != tc.want {
				t.Fatalf("CheckScriptRequest = %v, want %v", got, tc.want)
			}
		})
	}
}
