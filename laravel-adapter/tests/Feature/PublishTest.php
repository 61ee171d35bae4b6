<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Mqtt\Client;
use Mqtt\ConnectionException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Mqtt5Listener;

final class PublishTest extends TestCase
{
    public function test_publish_arrives_at_an_independent_subscriber_through_the_prefix(): void
    {
        $prefix = $this->topic('app') . '/';
        $listener = $this->listen($prefix . '#');
        $this->bootApp(['MQTT_PREFIX' => $prefix]);

        MqttBroadcast::publish('sensors/temperature', '25.5');
        MqttBroadcast::publish('sensors/humidity', ['value' => 40.0, 'unit' => '%']);
        MqttBroadcast::publish('sensors/count', 7);
        self::assertTrue(MqttBroadcast::connection()->flush(5.0));

        self::assertSame([
            [$prefix . 'sensors/temperature', '25.5'],
            [$prefix . 'sensors/humidity', '{"value":40.0,"unit":"%"}'],
            [$prefix . 'sensors/count', '7'],
        ], $listener->waitFor(3));
    }

    public function test_publish_sync_returns_once_the_broker_has_the_message(): void
    {
        $listener = $this->listen($this->topic('#'));
        $this->bootApp();

        MqttBroadcast::publishSync($this->topic('orders'), ['id' => 42], qos: 1, timeout: 5.0);
        $status = MqttBroadcast::connection()->status();

        self::assertSame(0, $status['queued'] + $status['in_flight'], 'acknowledged when publishSync() returned');
        $listener->sync();
        self::assertSame([[$this->topic('orders'), '{"id":42}']], $listener->messages());
    }

    public function test_qos_and_retain_reach_the_broker(): void
    {
        $topic = $this->topic('retained');
        $this->bootApp();

        MqttBroadcast::publishSync($topic, 'kept', qos: 2, retain: true);
        // Subscribed afterwards, it still gets the message: the broker retained it.
        $late = $this->listen($topic);
        self::assertSame([[$topic, 'kept']], $late->waitFor(1));

        MqttBroadcast::publishSync($topic, '', retain: true);
    }

    public function test_mqtt_5_properties_reach_the_broker(): void
    {
        $listener = Mqtt5Listener::start(static::broker(), $this->topic('#'));
        $this->bootApp(['MQTT_PROTOCOL' => '5']);

        MqttBroadcast::publishSync($this->topic('v5'), 'sync', qos: 1, properties: ['content_type' => 'text/plain']);
        MqttBroadcast::publish($this->topic('v5'), 'async', qos: 1, properties: ['user_properties' => ['k' => 'v']]);
        self::assertTrue(MqttBroadcast::connection()->flush(5.0));

        $listener->sync();
        self::assertSame('text/plain', $listener->messageWithPayload('sync')['content_type']);
        self::assertSame('k:v', $listener->messageWithPayload('async')['user_properties']);
    }

    public function test_connection_returns_the_extensions_client_with_a_client_id_of_its_own(): void
    {
        $this->bootApp(['MQTT_CLIENT_ID' => 'the-daemons-id']);

        $client = MqttBroadcast::connection();

        self::assertInstanceOf(Client::class, $client);
        self::assertSame($client, MqttBroadcast::connection('default'));
        self::assertSame('default', $client->status()['name']);
        // A publishing process never takes the daemon's client id: two clients
        // with one id knock each other off the broker.
        self::assertStringStartsWith('mqttb-' . getmypid() . '-', $client->status()['client_id']);
    }

    public function test_publish_sync_throws_the_extensions_exceptions(): void
    {
        $this->bootApp([
            'MQTT_PORT' => (string) Broker::freePort(),
            'MQTT_TERMINATE_ON_MAX_RETRIES' => 'true',
            'MQTT_MAX_RETRIES' => '1',
            'MQTT_MAX_RETRY_DELAY' => '1',
        ]);

        try {
            MqttBroadcast::publishSync($this->topic('nowhere'), 'x', qos: 1, timeout: 5.0);
            self::fail('publishSync() returned without a broker');
        } catch (ConnectionException $e) {
            self::assertStringContainsString('Connection refused', $e->getMessage());
        } finally {
            MqttBroadcast::connection()->close();
        }
    }

    public function test_the_helpers_and_get_topic_of_the_pure_php_package_still_work(): void
    {
        $prefix = $this->topic('helpers') . '/';
        $listener = $this->listen($prefix . '#');
        $this->bootApp(['MQTT_PREFIX' => $prefix]);

        mqttMessage('async', ['a' => 1]);
        mqttMessageSync('sync', 'b', qos: 1);
        MqttBroadcast::connection()->flush(5.0);

        self::assertSame($prefix . 'x/y', MqttBroadcast::getTopic('x/y'));
        self::assertSameMultiset(['{"a":1}', 'b'], array_column($listener->waitFor(2), 1));
    }
}
