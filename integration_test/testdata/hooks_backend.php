<?php
// A backend for Caddy's socketio hooks in plain PHP, run by php-fpm behind
// php_fastcgi as a front controller (index.php), the way Laravel or Symfony
// apps are. It answers exactly as hooks_backend.py does (see its docstring)
// and logs every request to HOOK_LOG, one JSON line each.

$secret = getenv('HOOK_SECRET');
$body = file_get_contents('php://input');

// Socketio-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]
function verified(string $header, string $body, string $secret): bool {
    $t = null;
    $sigs = [];
    foreach (explode(',', $header) as $kv) {
        [$k, $v] = array_pad(explode('=', $kv, 2), 2, '');
        if ($k === 't') $t = $v;
        if ($k === 'v1') $sigs[] = $v;
    }
    if ($t === null || abs(time() - (int)$t) > 300) return false;
    $want = hash_hmac('sha256', $t . '.' . $body, $secret);
    foreach ($sigs as $sig) {
        if (hash_equals($want, $sig)) return true;
    }
    return false;
}

function first($v) { return is_array($v) ? $v[0] : $v; }

function answer(string $kind, $req): array {
    $slow = (float)(getenv('HOOK_SLOW') ?: 3);
    if ($kind === 'connect') {
        $hs = $req->handshake;
        $auth = $hs->auth ?? new stdClass();
        $token = $auth->token ?? first($hs->query->token ?? null);
        $user = $auth->user ?? first($hs->query->user ?? null);
        if ($token === 'slow') { usleep((int)($slow * 1e6)); $token = 'good'; }
        if ($token === 'garbage') return [200, '<html>this is not JSON'];
        if ($token === 'good') {
            return [200, ['accept' => true, 'data' => ['user' => $user], 'rooms' => ["user:$user"],
                          'meta' => ['session' => "s-$user"]]];
        }
        return [200, ['accept' => false, 'message' => 'not authorized', 'data' => ['code' => 42]]];
    }
    if ($kind === 'event') {
        $args = $req->args;
        switch ($req->event) {
        case 'slow':
            usleep((int)($slow * 1e6));
            return [200, ['ack' => ['late']]];
        case 'garbage':
            return [200, '{not json'];
        case 'echo':
            return [200, ['ack' => [['args' => $args, 'meta' => $req->socket->meta ?? null,
                                     'data' => $req->socket->data ?? null],
                                    ['_binary' => base64_encode('pong')]]]];
        case 'order:place':
            $order = $args[0];
            return [200, ['ack' => ['placed'],
                          'emit' => [['event' => 'order:placed', 'args' => [$order], 'to' => ['user:' . $order->for]]]]];
        case 'room:join':
            return [200, ['join' => [$args[0]], 'ack' => ['joined']]];
        }
        return [200, ['ack' => ['unknown event ' . $req->event]]];
    }
    return [200, new stdClass()]; // notify
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$kind = substr($path, strrpos($path, '/') + 1);
$ok = verified($_SERVER['HTTP_SOCKETIO_SIGNATURE'] ?? '', $body, $secret);
// Decoded as objects, so that {} stays {} when echoed back.
$req = json_decode($body);
$entry = ['backend' => 'php', 'path' => $path, 'verified' => $ok,
          'content_type' => $_SERVER['CONTENT_TYPE'] ?? null,
          'authorization' => $_SERVER['HTTP_AUTHORIZATION'] ?? null, 'body' => $req];
file_put_contents(getenv('HOOK_LOG'), json_encode($entry, JSON_UNESCAPED_SLASHES) . "\n", FILE_APPEND | LOCK_EX);

[$status, $out] = $ok ? answer($kind, $req) : [401, ['error' => 'bad signature']];
http_response_code($status);
header('Content-Type: application/json');
echo is_string($out) ? $out : json_encode($out, JSON_UNESCAPED_SLASHES);
