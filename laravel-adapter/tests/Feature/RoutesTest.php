<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Tests\DaemonProcess;
use MqttBroadcast\Laravel\Tests\JsonLines;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Failure;

/**
 * routes/mqtt.php of the test application (tests/app/routes/mqtt.php) in a
 * real daemon against a real Mosquitto; each test gives the daemon a prefix
 * of its own, so the routes' topics are unique to it.
 */
final class RoutesTest extends TestCase
{
    private const TENANTS = 100;
    private const MESSAGES = 10_000;

    public function test_the_bridge_story_every_metric_becomes_a_job_and_malformed_messages_are_rejected(): void
    {
        $prefix = $this->topic('bridge') . '/';
        $env = ['MQTT_PREFIX' => $prefix, 'MQTT_QOS' => '1', 'MQTT_CLIENT_ID' => 'daemon-' . $this->uniq()];
        $daemon = $this->startDaemon($env);

        $tenants = [];
        for ($i = 0; $i < self::TENANTS; $i++) {
            $tenants[] = sprintf('%08x-0000-4000-8000-%012x', crc32($this->uniq()), $i);
        }
        $publisher = $this->client($this->options(['prefix' => $prefix, 'max_queue' => self::MESSAGES * 2]));
        $expected = [];
        for ($i = 0; $i < self::MESSAGES; $i++) {
            $tenant = $tenants[$i % self::TENANTS];
            $agent = 'agent-' . ($i % 7);
            $metric = ['cpu', 'memory', 'disk'][$i % 3];
            $expected[] = "$tenant $agent $metric $i";
            $publisher->publish("metrics/$tenant/$agent/$metric", json_encode(['value' => $i, 'timestamp' => 1_700_000_000 + $i, 'dedupe_id' => "d$i"]), 1);
        }
        self::assertTrue($publisher->flush(30.0), 'the test could not publish the metrics');

        $jobs = $this->waitForRouted($daemon, 'metric', self::MESSAGES, 60.0);
        self::assertSameMultiset($expected, array_map(static fn (array $r) => "{$r['tenant']} {$r['agent']} {$r['metric']} {$r['value']}", $jobs));
        self::assertCount(self::MESSAGES, array_unique(array_column($jobs, 'dedupe_id')), 'a job ran twice');
        self::assertSame("{$prefix}metrics/{$tenants[0]}/agent-0/cpu", $jobs[0]['topic'], 'the job gets the message, prefix included');

        // Malformed topics and payloads: rejected with the reason, and the daemon goes on.
        $tenant = $tenants[0];
        $malformed = [
            ["metrics/$tenant/agent-1", '{"value": 1}', 'metrics/#', 'matches no route'],
            ["metrics/$tenant/agent-1/cpu/extra", '{"value": 1}', 'metrics/#', 'matches no route'],
            ['metrics/not-a-uuid/agent-1/cpu', '{"value": 1}', 'metrics/{tenant}/{agent}/{metric}', 'level {tenant} "not-a-uuid" is not a UUID'],
            ["metrics/$tenant/agent-1/temperature", '{"value": 1}', 'metrics/{tenant}/{agent}/{metric}', 'level {metric} "temperature" is not one of cpu, memory, disk'],
            ["metrics/$tenant/agent-1/cpu", 'not json', 'metrics/{tenant}/{agent}/{metric}', 'payload is not JSON: Syntax error'],
            ["metrics/$tenant/agent-1/cpu", '{"timestamp": 1}', 'metrics/{tenant}/{agent}/{metric}', 'payload fails validation: The value field is required.'],
            ["metrics/$tenant/agent-1/cpu", '{"value": "high"}', 'metrics/{tenant}/{agent}/{metric}', 'payload fails validation: The value must be a number.'],
        ];
        foreach ($malformed as [$topic, $payload]) {
            static::broker()->mosquittoPub($prefix . $topic, $payload, qos: 1);
        }
        static::broker()->mosquittoPub("{$prefix}metrics/$tenant/agent-1/cpu", '{"value": 42.5, "dedupe_id": "after"}', qos: 1);
        $rejected = $this->waitForRouted($daemon, 'rejected', count($malformed));
        self::assertSame(
            array_map(static fn (array $m) => [$prefix . $m[0], $m[1], $m[2], $m[3]], $malformed),
            array_map(static fn (array $r) => [$r['topic'], $r['message'], $r['pattern'], $r['reason']], $rejected)
        );
        $jobs = $this->waitForRouted($daemon, 'metric', self::MESSAGES + 1);
        self::assertSame(['after', 42.5], [$jobs[self::MESSAGES]['dedupe_id'], $jobs[self::MESSAGES]['value']], 'the daemon went on');
        self::assertStringContainsString("Rejected \"{$prefix}metrics/not-a-uuid/agent-1/cpu\" (connection default, metrics/{tenant}/{agent}/{metric}): level {tenant} \"not-a-uuid\" is not a UUID", $this->laravelLog());

        // Acknowledged: the next daemon of this persistent session gets none of them again.
        $daemon->signal(SIGTERM);
        self::assertSame(0, $daemon->waitForExit(15.0));
        $next = $this->startDaemon($env);
        $next->awaitSubscription(static::broker(), 'probe', $prefix);
        usleep(500_000);
        self::assertSame([], array_filter($this->routed(), static fn (array $r) => $r['pid'] === $next->pid() && in_array($r['route'], ['metric', 'rejected'], true)), $next->describe());
    }

    public function test_a_message_goes_to_every_route_it_matches_and_to_the_listeners(): void
    {
        $prefix = $this->topic('devices') . '/';
        $daemon = $this->startDaemon(['MQTT_PREFIX' => $prefix, 'MQTT_QOS' => '1']);

        static::broker()->mosquittoPub("{$prefix}devices/d-7/status", 'online', qos: 1);
        static::broker()->mosquittoPub("{$prefix}devices/x-1/status", 'offline', qos: 1);
        static::broker()->mosquittoPub("{$prefix}devices/d-7/sensors/temperature", '21.5', qos: 1);
        $this->waitForRouted($daemon, 'device', 3);

        self::assertSame(
            [
                ['status', 'd-7', null, 'online'],
                ['device', 'd-7', 'status', 'online'],
                ['rejected', null, null, 'offline'],
                ['device', 'x-1', 'status', 'offline'],
                ['device', 'd-7', 'sensors/temperature', '21.5'],
            ],
            array_map(static fn (array $r) => [$r['route'], $r['device'] ?? null, $r['path'] ?? null, $r['status'] ?? $r['payload'] ?? $r['message']], $this->routed())
        );
        self::assertSame('level {device} "x-1" does not match d-[0-9]+', $this->routed()[2]['reason']);
        // The configured topics (#) cover them too: the listeners got each message once.
        $received = $daemon->waitForMessages("{$prefix}devices/", 3);
        self::assertSame(["{$prefix}devices/d-7/status", "{$prefix}devices/x-1/status", "{$prefix}devices/d-7/sensors/temperature"], array_column($received, 'topic'));
    }

    public function test_routes_lists_the_routes_with_their_connection_filter_action_and_constraints(): void
    {
        $result = $this->artisan(['mqtt-broadcast:routes']);
        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertMatchesRegularExpression('/\|\s*\*\s*\|\s*metrics\/\{tenant\}\/\{agent\}\/\{metric\}\s*\|\s*metrics\/\+\/\+\/\+\s*\|\s*MqttBroadcast\\\\Laravel\\\\Tests\\\\App\\\\ProcessMetricSubmission\s*\|\s*tenant: uuid; metric: in:cpu,memory,disk; json: value, timestamp, dedupe_id\s*\|/', $result->stdout);
        self::assertMatchesRegularExpression('/\|\s*backup\s*\|\s*alerts\/\{level\}\s*\|\s*alerts\/\+\s*\|\s*Closure\s*\|/', $result->stdout);

        $json = $this->artisan(['mqtt-broadcast:routes', '--json', '--connection=default']);
        self::assertSame(
            [
                ['*', 'metrics/{tenant}/{agent}/{metric}', 'metrics/+/+/+'],
                ['*', 'devices/{device}/status', 'devices/+/status'],
                ['*', 'devices/{device}/{path*}', 'devices/+/#'],
                ['*', 'metrics/#', 'metrics/#'],
            ],
            array_map(static fn (array $r) => [$r['connection'], $r['pattern'], $r['filter']], json_decode($json->stdout, true, flags: JSON_THROW_ON_ERROR))
        );
    }

    public function test_the_daemon_names_a_pattern_the_extension_refuses(): void
    {
        $result = $this->artisan(['mqtt-broadcast'], ['MQTT_TEST_BAD_PATTERN' => 'metrics/{tenant']);
        self::assertSame(1, $result->exitCode, $result->describe());
        self::assertStringContainsString('Invalid config "routes/mqtt.php": route "metrics/{tenant" is not a valid pattern: argument #1 ($pattern) has an unclosed \'{\'', $result->stdout);
    }

    /** @return list<array<string, mixed>> what the routes and MqttMessageRejected recorded (see Tests\App\Routed), without the connection events */
    private function routed(): array
    {
        return array_values(array_filter(
            JsonLines::read("{$this->appDir}/storage/routed.jsonl"),
            static fn (array $r) => $r['route'] !== 'connection'
        ));
    }

    /** @return list<array<string, mixed>> the records of $route, once there are $count of them */
    private function waitForRouted(DaemonProcess $daemon, string $route, int $count, float $timeout = 15.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (count($records = array_values(array_filter($this->routed(), static fn (array $r) => $r['route'] === $route))) < $count) {
            if (microtime(true) >= $deadline || !$daemon->isRunning()) {
                Failure::raise(sprintf("%d of %d %s record(s)\n%s", count($records), $count, $route, $daemon->describe()));
            }
            usleep(100_000);
        }
        return $records;
    }
}
