<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Broker;

/** mqtt-broadcast:install and mqtt-broadcast:test, as the pure-PHP package has them. */
final class CommandsTest extends TestCase
{
    public function test_the_test_command_publishes_and_waits_for_the_acknowledgement(): void
    {
        $topic = $this->topic('hello');
        $listener = $this->listen($topic);

        $result = $this->artisan(['mqtt-broadcast:test', 'default', $topic, 'hello from artisan']);

        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertMatchesRegularExpression('/Published "' . preg_quote($topic, '/') . '" on connection "default" \(mqtt:\/\/127\.0\.0\.1:\d+, QoS 0\): acknowledged in \d+ ms\./', $result->stdout);
        self::assertSame([[$topic, 'hello from artisan']], $listener->waitFor(1));
    }

    public function test_the_test_command_fails_with_the_reason(): void
    {
        $unknown = $this->artisan(['mqtt-broadcast:test', 'nope']);
        self::assertSame(1, $unknown->exitCode, $unknown->describe());
        self::assertStringContainsString('connection "nope" is not configured (configured: "default", "backup")', $unknown->stdout);

        $down = $this->artisan(['mqtt-broadcast:test', 'default', 'a/b', 'x', '--qos=1', '--timeout=2'], ['MQTT_PORT' => (string) Broker::freePort(), 'MQTT_TERMINATE_ON_MAX_RETRIES' => 'true', 'MQTT_MAX_RETRIES' => '1', 'MQTT_MAX_RETRY_DELAY' => '1']);
        self::assertSame(1, $down->exitCode, $down->describe());
        self::assertStringContainsString('Publishing on connection "default" failed: Mqtt\ConnectionException', $down->stdout);
    }

    public function test_install_keeps_an_existing_config_file_and_checks_the_extension(): void
    {
        $result = $this->artisan(['mqtt-broadcast:install']);

        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertStringContainsString('config/mqtt-broadcast.php exists already: kept as it is', $result->stdout);
        self::assertStringContainsString('The mqtt_broadcast extension ' . phpversion('mqtt_broadcast') . ' is loaded.', $result->stdout);
        self::assertStringContainsString('php artisan migrate', $result->stdout);

        $without = $this->phpWithoutExtension([self::ARTISAN, 'mqtt-broadcast:install']);
        self::assertSame(1, $without->exitCode, $without->describe());
        self::assertStringContainsString('The mqtt_broadcast extension is not loaded in this PHP', $without->stdout . $without->stderr);
    }
}
