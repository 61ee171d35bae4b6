<?php

declare(strict_types=1);

// An independent MQTT 3.1.1 publisher for the tests (StreamPublisher starts it):
// sends each line of a file as one message, in order, on one topic, then says
// how many the broker took. Plain PHP on a socket, run with php -n, so neither
// the extension nor a command line client of one particular Mosquitto version
// (mosquitto_pub 2.1's -l stops before the end of its input) is involved.
//
//   php -n publish-stream.php HOST PORT TOPIC QOS MAX_INFLIGHT LINES_FILE
//
// QoS 1: at most MAX_INFLIGHT messages wait for their PUBACK at a time, and every
// PUBACK is matched to its packet id. QoS 0: after the last message a PINGREQ,
// whose PINGRESP comes once the broker has read everything before it.
// Prints "published N" and exits 0 when the broker took all N; otherwise says
// why on stderr and exits 1.

const KEEP_ALIVE = 60;
const TIMEOUT = 30.0; // seconds without any progress before giving up

function fail(string $message): never
{
    fwrite(STDERR, "publish-stream: $message\n");
    exit(1);
}

function utf8(string $text): string
{
    return pack('n', strlen($text)) . $text;
}

function remainingLength(int $length): string
{
    $bytes = '';
    do {
        $byte = $length % 128;
        $length = intdiv($length, 128);
        $bytes .= chr($length > 0 ? $byte | 0x80 : $byte);
    } while ($length > 0);
    return $bytes;
}

function packet(int $firstByte, string $body): string
{
    return chr($firstByte) . remainingLength(strlen($body)) . $body;
}

/** Reads what the socket has within $wait seconds and returns the complete packets as [type, body]. */
function readPackets($socket, string &$buffer, float $wait): array
{
    $read = [$socket];
    $none = null;
    $seconds = (int) $wait;
    if (stream_select($read, $none, $none, $seconds, (int) (($wait - $seconds) * 1e6)) === 1) {
        $chunk = fread($socket, 65536);
        if ($chunk === false || $chunk === '') {
            fail('the broker closed the connection');
        }
        $buffer .= $chunk;
    }
    $packets = [];
    $at = 0;
    $size = strlen($buffer);
    while ($size - $at >= 2) {
        $length = 0;
        $multiplier = 1;
        $end = $at + 1;
        do {
            if ($end >= $size) {
                break 2;
            }
            $byte = ord($buffer[$end++]);
            $length += ($byte & 0x7f) * $multiplier;
            $multiplier *= 128;
        } while ($byte & 0x80);
        if ($size < $end + $length) {
            break;
        }
        $packets[] = [ord($buffer[$at]) >> 4, substr($buffer, $end, $length)];
        $at = $end + $length;
    }
    $buffer = substr($buffer, $at);
    return $packets;
}

function writeAll($socket, string $bytes): void
{
    while ($bytes !== '') {
        $written = fwrite($socket, $bytes);
        if ($written === false || $written === 0) {
            fail('cannot write to the broker');
        }
        $bytes = substr($bytes, $written);
    }
}

[, $host, $port, $topic, $qos, $maxInflight, $file] = $argv + array_fill(0, 7, '');
$qos = (int) $qos;
$maxInflight = max(1, (int) $maxInflight);
if ($file === '' || !is_file($file) || !in_array($qos, [0, 1], true)) {
    fail('usage: php -n publish-stream.php HOST PORT TOPIC QOS(0|1) MAX_INFLIGHT LINES_FILE');
}
$lines = file($file, FILE_IGNORE_NEW_LINES);
$total = count($lines);

$socket = @stream_socket_client("tcp://$host:$port", $errno, $error, 10.0);
if ($socket === false) {
    fail("cannot connect to $host:$port: $error");
}
stream_set_blocking($socket, true);
// Read straight from the socket: bytes in PHP's own read buffer would be invisible to stream_select().
stream_set_read_buffer($socket, 0);
$clientId = 'stream-pub-' . getmypid() . '-' . bin2hex(random_bytes(4));
// CONNECT: protocol "MQTT" level 4 (3.1.1), clean session.
writeAll($socket, packet(0x10, utf8('MQTT') . chr(4) . chr(0x02) . pack('n', KEEP_ALIVE) . utf8($clientId)));
$buffer = '';
$deadline = microtime(true) + TIMEOUT;
while (true) {
    foreach (readPackets($socket, $buffer, 1.0) as [$type, $body]) {
        if ($type !== 2 || strlen($body) !== 2) {
            fail("expected CONNACK, got packet type $type");
        }
        if (ord($body[1]) !== 0) {
            fail('the broker refused the connection: CONNACK return code ' . ord($body[1]));
        }
        break 2;
    }
    if (microtime(true) > $deadline) {
        fail('no CONNACK within ' . TIMEOUT . ' s');
    }
}

$topicField = utf8($topic);
$next = 0;          // index of the next line to send
$inFlight = [];     // packet id => true, waiting for its PUBACK
$acknowledged = 0;
$packetId = 0;
$lastWrite = microtime(true);
$lastProgress = microtime(true);
while ($next < $total || $inFlight !== []) {
    $out = '';
    while ($next < $total && ($qos === 0 || count($inFlight) < $maxInflight) && strlen($out) < 65536) {
        if ($qos === 0) {
            $out .= packet(0x30, $topicField . $lines[$next]);
        } else {
            do {
                $packetId = $packetId % 65535 + 1;
            } while (isset($inFlight[$packetId]));
            $inFlight[$packetId] = true;
            $out .= packet(0x32, $topicField . pack('n', $packetId) . $lines[$next]);
        }
        $next++;
    }
    if ($out !== '') {
        writeAll($socket, $out);
        $lastWrite = $lastProgress = microtime(true);
    } elseif (microtime(true) - $lastWrite > KEEP_ALIVE / 2) {
        writeAll($socket, packet(0xc0, ''));
        $lastWrite = microtime(true);
    }
    // Wait for acknowledgements only when the window is full (or everything is sent).
    $wait = ($qos === 1 && ($next === $total || count($inFlight) >= $maxInflight)) ? 1.0 : 0.0;
    foreach (readPackets($socket, $buffer, $wait) as [$type, $body]) {
        if ($type === 4 && strlen($body) === 2) {
            $id = unpack('n', $body)[1];
            if (!isset($inFlight[$id])) {
                fail("PUBACK for packet id $id, which is not in flight");
            }
            unset($inFlight[$id]);
            $acknowledged++;
            $lastProgress = microtime(true);
        } elseif ($type !== 13) {
            fail("unexpected packet type $type from the broker");
        }
    }
    if (microtime(true) - $lastProgress > TIMEOUT) {
        fail(sprintf('no acknowledgement for %.0f s: %d of %d acknowledged, %d in flight', TIMEOUT, $acknowledged, $total, count($inFlight)));
    }
}

if ($qos === 0) {
    // The broker handles a connection's packets in order: the PINGRESP says it read every PUBLISH.
    writeAll($socket, packet(0xc0, ''));
    $deadline = microtime(true) + TIMEOUT;
    while (true) {
        foreach (readPackets($socket, $buffer, 1.0) as [$type]) {
            if ($type === 13) {
                break 2;
            }
        }
        if (microtime(true) > $deadline) {
            fail('no PINGRESP after the last message within ' . TIMEOUT . ' s');
        }
    }
    $acknowledged = $total;
}
writeAll($socket, packet(0xe0, ''));
fclose($socket);
if ($acknowledged !== $total) {
    fail("the broker took $acknowledged of $total messages");
}
echo "published $total\n";
