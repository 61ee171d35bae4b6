<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\Broker;

/**
 * The built-in broker (Mqtt\Broker, run() by a child PHP process) and the
 * bench's Mosquitto, measured the same way one after the other in each run:
 * QoS 0 fan-in from several publisher processes into one subscriber, QoS 1
 * pipelined and acknowledged, and the broker's resident memory per idle
 * connection. The clients are the same for both: the extension's
 * publish-burst.php, mosquitto_sub, and hand-made CONNECT packets.
 */
final class BrokerBench
{
    /** The built-in broker for the benchmarks: no persistence, as the bench's Mosquitto. */
    public static function startBuiltin(): Broker
    {
        return Broker::start(['persistence false'], builtin: true);
    }

    /**
     * $publishers processes publish $count QoS 0 messages in all, at once, each
     * on a topic of its own below one filter that one mosquitto_sub holds:
     * messages delivered per second, from the first measured publish() until
     * the subscriber had them all.
     */
    public static function fanIn(Broker $broker, string $topic, int $count, int $publishers, string $dir): float
    {
        $each = intdiv($count, $publishers);
        $sub = MosquittoSub::start($broker, "$topic/+", $each * $publishers);
        $jobs = [];
        for ($i = 0; $i < $publishers; $i++) {
            $jobs[] = Command::background(self::publishBurst($broker, ['topic' => "$topic/$i", 'count' => $each, 'qos' => 0, 'max_inflight' => 20]), $dir);
        }
        $started = min(array_map(static fn (BackgroundJob $job) => $job->result(120.0)['started_at'], $jobs));
        $end = $sub->waitForEnd(120.0) ?? throw new \RuntimeException("fan-in: not all messages arrived: " . $sub->describe());
        return $each * $publishers / ($end - $started);
    }

    /**
     * $count QoS 1 publish() calls, max_inflight 1000, then flush():
     * acknowledged messages per second, and how busy the broker was.
     *
     * @return array{per_second: float, broker_busy: float}
     */
    public static function acknowledged(Broker $broker, string $topic, int $count): array
    {
        $r = Command::json(Command::mustRun(self::publishBurst($broker, ['topic' => $topic, 'count' => $count, 'qos' => 1, 'max_inflight' => 1000])));
        $r['acknowledged'] === $count || throw new \RuntimeException("acknowledged {$r['acknowledged']} of $count");
        return ['per_second' => $r['flushed_per_second'], 'broker_busy' => $r['broker_busy']];
    }

    /**
     * Growth of the broker's resident memory (VmRSS) while $connections idle
     * MQTT 3.1.1 connections (hand-made CONNECT, keep-alive off, nothing
     * subscribed) are open, per 1,000 connections, in bytes.
     */
    public static function memoryPerThousandConnections(Broker $broker, int $connections): float
    {
        $before = self::rss($broker->pid());
        $sockets = [];
        for ($i = 0; $i < $connections; $i++) {
            $socket = @stream_socket_client("tcp://{$broker->host()}:{$broker->port()}", $errno, $errstr, 10.0)
                ?: throw new \RuntimeException("connection $i: $errstr");
            fwrite($socket, self::connectPacket('bench-idle-' . $i));
            $sockets[] = $socket;
        }
        foreach ($sockets as $i => $socket) {
            stream_set_timeout($socket, 10);
            $connack = fread($socket, 4);
            if ($connack !== "\x20\x02\x00\x00") {
                throw new \RuntimeException("connection $i: no CONNACK accepting it, got " . bin2hex((string) $connack));
            }
        }
        usleep(500_000);
        $after = self::rss($broker->pid());
        array_map('fclose', $sockets);
        return ($after - $before) * 1000 / $connections;
    }

    /** Resident memory of process $pid in bytes. */
    public static function rss(int $pid): int
    {
        preg_match('/^VmRSS:\s+(\d+) kB/m', (string) file_get_contents("/proc/$pid/status"), $m);
        return (int) ($m[1] ?? 0) * 1024;
    }

    /** bench/scripts/publish-burst.php against $broker. */
    private static function publishBurst(Broker $broker, array $values): array
    {
        $args = [];
        foreach (['host' => $broker->host(), 'port' => $broker->port(), 'broker_pid' => $broker->pid()] + $values as $key => $value) {
            $args[] = "$key=" . rawurlencode((string) $value);
        }
        return Command::php(__DIR__ . '/../scripts/publish-burst.php', $args);
    }

    /** A hand-made MQTT 3.1.1 CONNECT: clean session, keep-alive 0 (the broker never times it out). */
    private static function connectPacket(string $clientId): string
    {
        $body = "\x00\x04MQTT\x04\x02\x00\x00" . pack('n', strlen($clientId)) . $clientId;
        return "\x10" . chr(strlen($body)) . $body;
    }
}
