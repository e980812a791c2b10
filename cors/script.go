package cors

import (
	"net/http"
	"net/url"
)

// CheckScriptRequest reports whether r, a request that a page of any site
// can make without CORS (a <script> GET, which carries no Origin, or a form
// POST), comes from a page CheckOrigin would let open a session. JSONP
// polling is made of such requests, so a policy that only checked Origin
// would let any site read and write a JSONP session. It judges by what the
// browser sent, in this order:
//   - Origin, when present, as CheckOrigin does;
//   - Sec-Fetch-Site (sent by current browsers, and not settable by a
//     page): "same-origin" and "none" (the user typed the address) are
//     allowed; otherwise the Referer must be there and is judged next;
//   - the Referer's scheme and host, as CheckOrigin judges an Origin.
//
// A request with none of the three headers (an old browser, or no browser)
// is allowed: nothing in it can be checked, which is the risk JSONP keeps.
func (p *Policy) CheckScriptRequest(r *http.Request) bool {
	if r.Header.Get("Origin") != "" {
		return p.CheckOrigin(r)
	}
	site := r.Header.Get("Sec-Fetch-Site")
	if site == "same-origin" || site == "none" {
		return true
	}
	referer := r.Header.Get("Referer")
	if referer == "" {
		return site == "" // cross-site or same-site, and the page hid where it is
	}
	u, err := url.Parse(referer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return false
	}
	origin := u.Scheme + "://" + u.Host
	return sameHost(origin, r) || p.AllowsOrigin(origin)
}
