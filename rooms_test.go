package caddysocketio

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRoomTemplates(t *testing.T) {
	hs := handshakeValues{
		query:  url.Values{"room": {"a"}, "empty": {""}, "id": {"Dgtf2eavtKRS31SXvNyq"}, "i": {"Dgtf2eavtK"}}.Get,
		header: http.Header{"X-Team": {"red"}},
		auth:   map[string]any{"d": "RS31SXvNyq", "user": "u1", "n": float64(42), "big": float64(1e21), "admin": true, "obj": map[string]any{}, "null": nil},
	}
	for _, c := range []struct {
		template, want string
		joins          bool
	}{
		{"lobby", "lobby", true},
		{"room-{query.room}", "room-a", true},
		{"room-{http.request.uri.query.room}", "room-a", true}, // as the Caddyfile adapter writes it
		{"{header.X-Team}", "red", true},
		{"{header.x-team}", "red", true},
		{"{http.request.header.X-Team}-team", "red-team", true},
		{"user-{auth.user}", "user-u1", true},
		{"n-{auth.n}", "n-42", true},
		{"n-{auth.big}", "n-1000000000000000000000", true},
		{"admin-{auth.admin}", "admin-true", true},
		{"{query.room}/{auth.user}/{header.X-Team}", "a/u1/red", true},
		// A placeholder that resolves to nothing joins nothing, rather
		// than a room shared by every client that left the value out.
		{"room-{query.missing}", "", false},
		{"room-{query.empty}", "", false},
		{"{header.X-Missing}", "", false},
		{"obj-{auth.obj}", "", false},
		{"null-{auth.null}", "", false},
		{"{query.room}-{auth.missing}", "", false},
		// The room of a socket's id is that socket's alone.
		{"{query.id}", "", false},
		{"{query.i}{auth.d}", "", false},
		{"{query.id}x", "Dgtf2eavtKRS31SXvNyqx", true},
	} {
		tmpl, err := parseRoomTemplate(c.template)
		if err != nil {
			t.Errorf("parse %q: %v", c.template, err)
			continue
		}
		got, ok := tmpl.expand(hs)
		if got != c.want || ok != c.joins {
			t.Errorf("expand %q = %q, %v; want %q, %v", c.template, got, ok, c.want, c.joins)
		}
	}
}

func TestRoomTemplateErrors(t *testing.T) {
	for template, want := range map[string]string{
		"{query.room":         `room "{query.room" has a '{' without '}'`,
		"a}":                  `room "a}" has a '}' without '{'`,
		"a}{query.room}":      `room "a}{query.room}" has a '}' without '{'`,
		"{query.}":            `placeholder {query.} is not one of {query.<key>}, {header.<Name>}, {auth.<key>}`,
		"{room}":              `placeholder {room} is not one of`,
		"{env.HOME}":          `placeholder {env.HOME} is not one of {query.<key>}, {header.<Name>}, {auth.<key>}; rooms are named when a socket connects`,
		"{http.request.host}": `placeholder {http.request.host} is not one of`,
	} {
		_, err := parseRoomTemplate(template)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("parse %q: %v, want an error starting with %q", template, err, want)
		}
	}
}

// A namespace whose join rooms are plain names (no placeholder, so the
// handshake is not looked at) still puts every socket in them.
func TestJoinRoomsWithoutPlaceholdersAreJoined(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			join lobby news
		}
	}`))
	if rooms := joinedChatRooms(t, addr, "room=a"); strings.Join(rooms, ",") != "lobby,news" {
		t.Errorf("the socket is in %v (its id room aside), want lobby and news", rooms)
	}
}
