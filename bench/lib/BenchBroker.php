<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;

/**
 * The Mosquitto the benchmarks run against: the tests' Broker (a real
 * mosquitto on a free loopback port) with a config tuned for measuring.
 */
final class BenchBroker
{
    /** mosquitto.conf lines added after Broker's defaults (a later line wins). */
    public const CONFIG = [
        // The tests' broker logs every packet (log_type all), which costs the broker
        // more than the packets themselves: "none" clears the set, errors stay, and
        // subscriptions, which is how MosquittoSub knows it is subscribed.
        'log_type none',
        'log_type error',
        'log_type warning',
        'log_type subscribe',
        // No limit on QoS 1/2 messages in flight per client (mosquitto's default is
        // 20), so that scenario 2 can run the client with max_inflight 1000.
        'max_inflight_messages 0',
        // Nothing written to disk while measuring, nor at the end.
        'persistence false',
        // $SYS counters as often as it gives them: PUBLISH packets received (see
        // publishesReceived()).
        'sys_interval 1',
    ];

    /**
     * How often Mosquitto 2.0 publishes its $SYS counters with sys_interval 1:
     * once more than a whole second has passed since the last time, so every
     * 2 s (mosquitto_sub -F '%U' on $SYS/broker/uptime shows it).
     */
    private const SYS_PERIOD_SECONDS = 2.0;

    public static function start(): Broker
    {
        return Broker::start(self::CONFIG);
    }

    /**
     * PUBLISH packets the broker received from clients since it started, from
     * its $SYS counter (updated every SYS_PERIOD_SECONDS; null when it could not
     * be read).
     */
    public static function publishesReceived(Broker $broker): ?int
    {
        $out = $broker->dir() . '/sys-' . bin2hex(random_bytes(4));
        $process = new BackgroundProcess([
            'mosquitto_sub', '-h', $broker->host(), '-p', (string) $broker->port(),
            '-t', '$SYS/broker/publish/messages/received', '-C', '1', '-W', '5',
        ], $out, $out);
        $process->wait(10.0);
        $process->kill();
        $value = trim((string) @file_get_contents($out));
        @unlink($out);
        return ctype_digit($value) ? (int) $value : null;
    }

    /**
     * The broker's count of PUBLISH packets once it stopped changing: nothing
     * else publishes, and the counter caught up. Two reads closer together than
     * the counter's period could both see the same stale value while messages
     * still arrive, and a stale count taken before a measurement would count
     * that measurement's messages as more than arrived.
     */
    public static function settledPublishesReceived(Broker $broker): int
    {
        $received = self::publishesReceived($broker);
        for ($reads = 0; $reads < 10; $reads++) {
            usleep((int) ((self::SYS_PERIOD_SECONDS + 0.1) * 1e6));
            $again = self::publishesReceived($broker);
            if ($again !== null && $again === $received) {
                return $again;
            }
            $received = $again;
        }
        throw new \RuntimeException('the broker\'s $SYS count of received messages did not settle');
    }

    /** Waits until the broker counted at least $count PUBLISH packets; the last count read. */
    public static function awaitPublishesReceived(Broker $broker, int $count, float $timeout = 15.0): ?int
    {
        $deadline = microtime(true) + $timeout;
        do {
            $received = self::publishesReceived($broker);
            if ($received !== null && $received >= $count) {
                return $received;
            }
            usleep(250_000);
        } while (microtime(true) < $deadline);
        return $received;
    }
}
