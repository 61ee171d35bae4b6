<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Daemon\Daemon;
use MqttBroadcast\Laravel\Tests\DaemonProcess;
use MqttBroadcast\Laravel\Tests\JsonLines;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;

/**
 * MqttConnected, MqttConnectionLost, MqttReconnecting and MqttConnectionFailed
 * from the daemon, across a real Mosquitto stopped and started again; the
 * test application records them (storage/routed.jsonl, "connection").
 */
final class ConnectionEventsTest extends TestCase
{
    public function test_a_broker_restart_is_lost_reconnecting_and_connected_again_in_that_order(): void
    {
        $broker = Broker::start();
        $daemon = $this->startDaemon(['MQTT_PORT' => (string) $broker->port(), 'MQTT_MAX_RETRY_DELAY' => '1']);
        $this->waitForEvents($daemon, ['MqttConnected']);

        $broker->stop();
        $this->waitForEvents($daemon, ['MqttConnected', 'MqttConnectionLost', 'MqttReconnecting']);
        $broker->resume();
        $events = $this->waitForEvents($daemon, ['MqttConnected', 'MqttConnectionLost', 'MqttReconnecting', 'MqttConnected'], collapse: true);

        self::assertSame(['default'], array_values(array_unique(array_column($events, 'broker'))));
        $lost = array_values(array_filter($events, static fn (array $e) => $e['type'] === 'MqttConnectionLost'))[0];
        self::assertNotNull($lost['reason'], 'the connection lost says why');
        // Each try counts one more attempt, and the connection that succeeds is the last one tried.
        $attempts = array_values(array_column(array_filter($events, static fn (array $e) => $e['type'] === 'MqttReconnecting'), 'attempt'));
        self::assertSame(range($attempts[0], $attempts[0] + count($attempts) - 1), $attempts);
        self::assertSame(end($attempts), end($events)['attempt']);
        self::assertSame($events, self::sortedByTime($events));
    }

    public function test_a_connection_that_fails_for_good_dispatches_mqtt_connection_failed(): void
    {
        $broker = Broker::start();
        $daemon = $this->startDaemon([
            'MQTT_PORT' => (string) $broker->port(),
            'MQTT_MAX_RETRY_DELAY' => '1',
            'MQTT_MAX_RETRIES' => '2',
            'MQTT_TERMINATE_ON_MAX_RETRIES' => 'true',
        ]);
        $broker->stop();
        self::assertSame(Daemon::EXIT_CONNECTION_FAILED, $daemon->waitForExit(30.0));
        $types = array_column($this->events(), 'type');
        self::assertSame('MqttConnectionFailed', end($types), $daemon->describe());
        self::assertSame(['MqttConnected', 'MqttConnectionLost', 'MqttReconnecting'], array_slice(array_values(array_unique($types)), 0, 3));
    }

    /** @return list<array<string, mixed>> */
    private function events(): array
    {
        return array_values(array_filter(
            JsonLines::read("{$this->appDir}/storage/routed.jsonl"),
            static fn (array $r) => $r['route'] === 'connection'
        ));
    }

    /**
     * Waits until the event types, with repeated MqttReconnecting collapsed
     * into one when $collapse, start with $expected.
     *
     * @param list<string> $expected
     * @return list<array<string, mixed>>
     */
    private function waitForEvents(DaemonProcess $daemon, array $expected, bool $collapse = false, float $timeout = 20.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $events = $this->events();
            $types = array_column($events, 'type');
            if ($collapse) {
                $types = array_values(array_filter($types, static fn (string $t, int $i) => $t !== 'MqttReconnecting' || ($types[$i - 1] ?? null) !== 'MqttReconnecting', ARRAY_FILTER_USE_BOTH));
            }
            if (array_slice($types, 0, count($expected)) === $expected) {
                return $events;
            }
            if (microtime(true) >= $deadline || !$daemon->isRunning()) {
                Failure::raise('connection events ' . json_encode($types) . ', expected ' . json_encode($expected) . "\n" . $daemon->describe());
            }
            usleep(50_000);
        }
    }

    /**
     * @param list<array<string, mixed>> $events
     * @return list<array<string, mixed>>
     */
    private static function sortedByTime(array $events): array
    {
        usort($events, static fn (array $a, array $b) => $a['at'] <=> $b['at']);
        return $events;
    }
}
