<?php

/*
 * A TCP relay between MQTT clients and a broker that impairs the link in user
 * space, for machines whose kernel has no sch_netem (ImpairedLink starts it).
 *
 *   php -n impaired-link.php LISTEN_HOST BROKER_HOST BROKER_PORT CONTROL_FILE
 *
 * Listens on a free port of LISTEN_HOST and prints "listening PORT". The
 * impairment is read from CONTROL_FILE (JSON) whenever it changes, and each new
 * one is confirmed with a line "applied VERSION":
 *
 *   delay              seconds each chunk is held in each direction (half the round trip)
 *   stall_probability  chance that a chunk read is held stall seconds longer
 *   stall              how long such a chunk, and everything behind it, waits
 *   blackhole_up       nothing goes from the clients to the broker
 *   blackhole_down     nothing goes from the broker to the clients
 *
 * What a relay above TCP can model: it sees a byte stream, not segments, so it
 * cannot lose one. A lost segment costs a TCP connection a retransmission (at
 * least the 200 ms minimum RTO on Linux, plus a round trip) during which
 * everything behind it waits: a stall of the whole direction, which is what
 * stall_probability and stall make. A blackhole forwards nothing and sends no
 * RST or FIN; what was sent into it is held, as the sender's TCP would retransmit
 * it, and goes on once the blackhole ends (a peer that closed its socket meanwhile
 * is seen then). A connection accepted during a blackhole never reaches the broker,
 * then or later (its SYN was lost): the client gives up on it after its own timeout.
 */

declare(strict_types=1);

[, $listenHost, $brokerHost, $brokerPort, $controlFile] = $argv;

$server = stream_socket_server("tcp://$listenHost:0", $errno, $error);
if ($server === false) {
    fwrite(STDERR, "cannot listen on $listenHost: $error\n");
    exit(1);
}
stream_set_blocking($server, false);
echo 'listening ', parse_url('tcp://' . stream_socket_get_name($server, false), PHP_URL_PORT), "\n";

$mode = ['version' => 0, 'delay' => 0.0, 'stall_probability' => 0.0, 'stall' => 0.0, 'blackhole_up' => false, 'blackhole_down' => false];
$controlText = '';

/**
 * One direction of one relayed connection: what was read from $from and waits
 * to be written to $to, as [due time, bytes] in order.
 */
final class Direction
{
    /** @var list<array{0: float, 1: string}> */
    public array $queue = [];
    public float $lastDue = 0.0;
    public bool $ended = false;

    /** @param resource $from @param resource $to */
    public function __construct(public $from, public $to, public readonly bool $up)
    {
    }
}

/** @var list<array{0: Direction, 1: Direction}> relayed connections: client to broker, broker to client */
$links = [];
/** @var list<resource> clients accepted during a blackhole, never relayed nor closed */
$swallowed = [];

function blocked(array $mode, Direction $direction): bool
{
    return $direction->up ? $mode['blackhole_up'] : $mode['blackhole_down'];
}

function closeLink(array $link): void
{
    foreach ($link as $direction) {
        if (is_resource($direction->from)) {
            fclose($direction->from);
        }
    }
}

while (true) {
    $text = (string) @file_get_contents($controlFile);
    if ($text !== '' && $text !== $controlText) {
        $controlText = $text;
        $mode = array_replace($mode, json_decode($text, true, 512, JSON_THROW_ON_ERROR));
        echo "applied {$mode['version']}\n";
    }

    $now = microtime(true);
    $read = [$server];
    $write = [];
    $wake = $now + 0.02;
    foreach ($links as [$up, $down]) {
        foreach ([$up, $down] as $direction) {
            if (blocked($mode, $direction)) {
                continue;
            }
            if (!$direction->ended) {
                $read[] = $direction->from;
            }
            if ($direction->queue !== []) {
                if ($direction->queue[0][0] <= $now) {
                    $write[] = $direction->to;
                } else {
                    $wake = min($wake, $direction->queue[0][0]);
                }
            }
        }
    }
    $except = null;
    $wait = max(0, $wake - $now);
    if (stream_select($read, $write, $except, 0, (int) ($wait * 1e6)) === false) {
        exit(1);
    }
    $now = microtime(true);

    if (in_array($server, $read, true) && ($client = @stream_socket_accept($server, 0)) !== false) {
        if ($mode['blackhole_up'] || $mode['blackhole_down']) {
            $swallowed[] = $client;
        } elseif (($broker = @stream_socket_client("tcp://$brokerHost:$brokerPort", $errno, $error, 5.0)) === false) {
            fclose($client);
        } else {
            stream_set_blocking($client, false);
            stream_set_blocking($broker, false);
            $links[] = [new Direction($client, $broker, true), new Direction($broker, $client, false)];
        }
    }

    foreach ($links as $i => $link) {
        foreach ($link as $direction) {
            if (blocked($mode, $direction)) {
                continue;
            }
            if (in_array($direction->from, $read, true)) {
                $bytes = fread($direction->from, 65536);
                if ($bytes === '' || $bytes === false) {
                    $direction->ended = true;
                } else {
                    $due = max($now + $mode['delay'], $direction->lastDue);
                    if ($mode['stall_probability'] > 0 && mt_rand() / mt_getrandmax() < $mode['stall_probability']) {
                        $due += $mode['stall'];
                    }
                    $direction->queue[] = [$due, $bytes];
                    $direction->lastDue = $due;
                }
            }
            while ($direction->queue !== [] && $direction->queue[0][0] <= $now) {
                $written = @fwrite($direction->to, $direction->queue[0][1]);
                if ($written === false) {
                    $direction->ended = true;
                    $direction->queue = [];
                    break;
                }
                if ($written < strlen($direction->queue[0][1])) {
                    $direction->queue[0][1] = substr($direction->queue[0][1], $written);
                    break;
                }
                array_shift($direction->queue);
            }
        }
        // One side closed and everything it sent was passed on: close the other side too, as TCP would.
        foreach ($link as $direction) {
            if ($direction->ended && $direction->queue === []) {
                closeLink($link);
                unset($links[$i]);
                break;
            }
        }
    }
    $links = array_values($links);
}
