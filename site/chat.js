// The chat page: one Socket.IO connection to this page's own origin, in the
// room named by ?room= (the server joins it from the handshake query), and
// "message" events that the server relays to the others in the room.
(function () {
  'use strict';

  const room = (new URLSearchParams(location.search).get('room') || 'lobby').slice(0, 40);
  const $ = (id) => document.getElementById(id);
  $('room').textContent = room;
  document.title = room + ' · caddy-socketio chat';

  const nameInput = $('name');
  nameInput.value = localStorage.getItem('chat-name') || '';

  function status(text, isError) {
    $('status').textContent = text;
    $('status').classList.toggle('error', !!isError);
  }

  function show(name, text, mine) {
    const item = document.createElement('li');
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = name;
    item.append(who, document.createTextNode(text));
    if (mine) item.className = 'mine';
    $('messages').append(item);
    item.scrollIntoView({ block: 'end' });
  }

  // io() with no URL connects to the page's origin at /socket.io/.
  const socket = io({ query: { room } });

  socket.on('connect', () => {
    const engine = socket.io.engine; // a new one after each reconnection
    status('connected as ' + socket.id + ' (' + engine.transport.name + ')');
    engine.once('upgrade', (t) => status('connected as ' + socket.id + ' (' + t.name + ')'));
  });
  socket.on('disconnect', (reason) => status('disconnected: ' + reason + '; reconnecting…', true));
  socket.on('connect_error', (err) => status('cannot connect: ' + err.message + ' (see the browser console)', true));

  socket.on('message', (msg) => {
    if (msg && typeof msg.name === 'string' && typeof msg.text === 'string') show(msg.name, msg.text, false);
  });

  $('send').addEventListener('submit', (event) => {
    event.preventDefault();
    const msg = { name: nameInput.value.trim(), text: $('text').value.trim() };
    if (!msg.name || !msg.text) return;
    localStorage.setItem('chat-name', msg.name);
    socket.emit('message', msg);
    show(msg.name, msg.text, true);
    $('text').value = '';
    $('text').focus();
  });
})();
