<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Jobs\MqttMessageJob;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Laravel\Testing\MqttBroadcastFake;
use PHPUnit\Framework\ExpectationFailedException;

/**
 * MqttBroadcast::fake(), as an application's test suite uses it. These tests
 * run here and again in a PHP without the extension (WithoutExtensionTest):
 * they need neither it nor a broker.
 *
 * @group without-extension
 */
final class FakeTest extends TestCase
{
    protected function appEnv(array $overrides = []): array
    {
        // No broker: nothing may reach one. Port 1 refuses connections.
        return array_replace(['MQTT_BROADCAST_APP_DIR' => $this->appDir, 'APP_ENV' => 'testing', 'MQTT_HOST' => '127.0.0.1', 'MQTT_PORT' => '1'], $overrides);
    }

    public function test_publish_and_publish_sync_are_recorded_with_the_connections_defaults(): void
    {
        $this->bootApp(['MQTT_QOS' => '1']);
        $fake = MqttBroadcast::fake();

        MqttBroadcast::publish('sensors/temperature', '25.5');
        MqttBroadcast::publishSync('orders/created', ['id' => 42], 'backup', qos: 2, retain: true);

        self::assertInstanceOf(MqttBroadcastFake::class, $fake);
        MqttBroadcast::assertPublished('sensors/temperature');
        MqttBroadcast::assertPublished('sensors/temperature', '25.5');
        MqttBroadcast::assertPublished('orders/created', ['id' => 42]);
        MqttBroadcast::assertPublished('orders/created', '{"id":42}');
        MqttBroadcast::assertPublished('sensors/temperature', static fn (string $topic, string $payload, int $qos, bool $retain, string $connection) => [$topic, $payload, $qos, $retain, $connection] === ['sensors/temperature', '25.5', 1, false, 'default']);
        MqttBroadcast::assertPublished('orders/created', static fn ($topic, $payload, $qos, $retain, $connection) => $qos === 2 && $retain && $connection === 'backup');
        MqttBroadcast::assertPublishedOn('backup', 'orders/created', ['id' => 42]);
        MqttBroadcast::assertPublishedTimes('sensors/temperature', 1);
        MqttBroadcast::assertNotPublished('sensors/humidity');
        MqttBroadcast::assertNotPublished('sensors/temperature', '99');
    }

    public function test_the_helpers_the_queued_path_and_the_job_are_recorded(): void
    {
        $this->bootApp();
        MqttBroadcast::fake();
        $published = $this->publishedByTheExtension();

        mqttMessage('helpers/async', ['a' => 1]);
        mqttMessageSync('helpers/sync', 'b', 'backup');
        MqttBroadcast::publish('queued', 'q', queued: true);
        MqttMessageJob::dispatch('job/named', 'n', 'default', 1);
        MqttMessageJob::dispatch(topic: 'job/upstream-style', message: json_encode(['value' => 22.5]), broker: 'default', qos: 1);

        MqttBroadcast::assertPublished('helpers/async', ['a' => 1]);
        MqttBroadcast::assertPublishedOn('backup', 'helpers/sync', 'b');
        MqttBroadcast::assertPublished('queued', 'q');
        MqttBroadcast::assertPublished('job/named', static fn ($topic, $payload, $qos) => $payload === 'n' && $qos === 1);
        MqttBroadcast::assertPublished('job/upstream-style', ['value' => 22.5]);
        self::assertSame($published, $this->publishedByTheExtension(), 'with the extension loaded, nothing reached it');
    }

    /** @return array<string, int> messages each live connection of the extension in this process published; [] without it */
    private function publishedByTheExtension(): array
    {
        return class_exists(\Mqtt\Client::class) ? array_column(\Mqtt\Client::connections(), 'published', 'name') : [];
    }

    public function test_counting_and_nothing_published(): void
    {
        $this->bootApp();
        MqttBroadcast::fake();
        MqttBroadcast::assertNothingPublished();

        MqttBroadcast::publish('a', '1');
        MqttBroadcast::publish('a', '2');
        MqttBroadcast::publish('b', '1');

        MqttBroadcast::assertPublishedTimes('a', 2);
        MqttBroadcast::assertPublishedTimes('a', 1, '2');
        MqttBroadcast::assertPublishedTimes('c', 0);
        $this->assertFails(static fn () => MqttBroadcast::assertNothingPublished(), 'Messages were published.');
    }

    public function test_a_failing_assertion_lists_what_was_published(): void
    {
        $this->bootApp();
        MqttBroadcast::fake();
        MqttBroadcast::publish('sensors/temperature', '25.5', qos: 1);

        $this->assertFails(
            static fn () => MqttBroadcast::assertPublished('sensors/temperature', '26'),
            "No message matching the payload was published on [sensors/temperature].\nPublished:\n  [sensors/temperature] on default (qos 1): 25.5"
        );
        $this->assertFails(static fn () => MqttBroadcast::assertPublishedOn('backup', 'sensors/temperature'), 'through connection [backup]');
        $this->assertFails(static fn () => MqttBroadcast::assertNotPublished('sensors/temperature'), 'A message was published on [sensors/temperature].');
        $this->assertFails(static fn () => MqttBroadcast::assertPublishedTimes('sensors/temperature', 2), 'was published 1 times instead of 2');
    }

    public function test_a_connection_that_is_not_configured_fails_as_it_would_for_real(): void
    {
        $this->bootApp();
        MqttBroadcast::fake();

        $this->expectException(InvalidConfigException::class);
        $this->expectExceptionMessage('connection "nope" is not configured (configured: "default", "backup").');
        MqttBroadcast::publish('a/b', 'x', 'nope');
    }

    public function test_the_fake_has_no_connections(): void
    {
        $this->bootApp();
        MqttBroadcast::fake();

        $this->expectException(\LogicException::class);
        $this->expectExceptionMessage('MqttBroadcast::fake() has no connections');
        MqttBroadcast::connection();
    }

    private function assertFails(\Closure $assertion, string $message): void
    {
        try {
            $assertion();
        } catch (ExpectationFailedException $e) {
            self::assertStringContainsString($message, $e->getMessage());
            return;
        }
        self::fail("the assertion passed; expected it to fail with: $message");
    }
}
