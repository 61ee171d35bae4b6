<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Broadcasting\BroadcastException;
use Illuminate\Broadcasting\EncryptedPrivateChannel;
use Illuminate\Contracts\Broadcasting\Factory as BroadcastFactory;
use Illuminate\Support\Facades\Notification;
use MqttBroadcast\Laravel\Broadcasting\MqttBroadcaster;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Tests\App\Customer;
use MqttBroadcast\Laravel\Tests\App\OrderShipped;
use MqttBroadcast\Laravel\Tests\App\OrderShippedNotification;
use MqttBroadcast\Laravel\Tests\TestCase;

/**
 * The "mqtt" broadcasting driver and notification channel of the test
 * application (config/broadcasting.php: topic_prefix "broadcast/", QoS 1),
 * checked by an independent mosquitto_sub.
 */
final class BroadcastingTest extends TestCase
{
    public function test_a_broadcast_event_is_published_on_the_topic_of_each_channel_with_laravels_body(): void
    {
        $prefix = $this->topic('app') . '/';
        $listener = $this->listen("{$prefix}#");
        $app = $this->bootApp(['MQTT_PREFIX' => $prefix]);

        $app['request']->headers->set('X-Socket-ID', '1234.5678');
        // toOthers(): the socket goes with the body, for the clients to skip their own event.
        broadcast(new OrderShipped(42, 'DHL'))->toOthers();

        $body = ['event' => OrderShipped::class, 'data' => ['orderId' => 42, 'carrier' => 'DHL'], 'socket' => '1234.5678'];
        $messages = $listener->waitFor(3);
        self::assertSame(
            [
                ["{$prefix}broadcast/orders/42", $body],
                ["{$prefix}broadcast/private/orders/42", $body],
                ["{$prefix}broadcast/presence/warehouse/1", $body],
            ],
            array_map(static fn (array $m) => [$m[0], json_decode($m[1], true, flags: JSON_THROW_ON_ERROR)], $messages)
        );
    }

    public function test_encrypted_channels_are_refused_rather_than_sent_in_clear(): void
    {
        $app = $this->bootApp();
        $this->expectException(BroadcastException::class);
        $this->expectExceptionMessage('MQTT cannot broadcast on the encrypted channel "private-encrypted-orders.42"');
        $app->make(BroadcastFactory::class)->connection('mqtt')->broadcast([new EncryptedPrivateChannel('orders.42')], 'OrderShipped');
    }

    public function test_channel_names_map_to_topics(): void
    {
        self::assertSame('orders/42', MqttBroadcaster::topic('orders.42'));
        self::assertSame('app/private/orders/42', MqttBroadcaster::topic('private-orders.42', 'app/'));
        self::assertSame('presence/chat/room-1', MqttBroadcaster::topic('presence-chat.room-1'));
    }

    public function test_a_notification_is_published_on_the_notifiables_topic_or_the_routed_one(): void
    {
        $prefix = $this->topic('app') . '/';
        $listener = $this->listen("{$prefix}#");
        $this->bootApp();

        (new Customer(7, $prefix))->notify(new OrderShippedNotification(1001));
        Notification::route('mqtt', "{$prefix}orders/1002/status")->notify(new OrderShippedNotification(1002, retained: true));

        self::assertSame(
            [
                ["{$prefix}customers/7", '{"order":1001,"status":"shipped"}'],
                ["{$prefix}orders/1002/status", '{"order":1002,"status":"shipped"}'],
            ],
            $listener->waitFor(2)
        );
        // MqttMessage's retain: a subscriber that comes later gets it.
        self::assertSame([["{$prefix}orders/1002/status", '{"order":1002,"status":"shipped"}']], $this->listen("{$prefix}orders/#")->waitFor(1));
        MqttBroadcast::connection()->publishSync("{$prefix}orders/1002/status", '', 1, true);
    }

    public function test_the_fake_records_broadcasts_and_notifications(): void
    {
        $this->bootApp();
        MqttBroadcast::fake();

        event(new OrderShipped(42, 'DHL'));
        (new Customer(7, ''))->notify(new OrderShippedNotification(1001));

        MqttBroadcast::assertPublished('broadcast/orders/42');
        MqttBroadcast::assertPublished('customers/7', ['order' => 1001, 'status' => 'shipped']);
    }
}
