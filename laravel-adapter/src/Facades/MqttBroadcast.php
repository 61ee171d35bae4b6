<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Facades;

use Illuminate\Support\Facades\Facade;
use MqttBroadcast\Laravel\Testing\MqttBroadcastFake;

/**
 * @method static void publish(string $topic, mixed $message, string $broker = 'default', ?int $qos = null, ?bool $retain = null, ?bool $queued = null, ?array $properties = null)
 * @method static void publishSync(string $topic, mixed $message, string $broker = 'default', ?int $qos = null, ?bool $retain = null, ?float $timeout = null, ?array $properties = null)
 * @method static \Mqtt\Client connection(string $broker = 'default')
 * @method static string getTopic(string $topic, string $broker = 'default')
 * @method static void received(string $topic, string $message, string $broker = 'default')
 *
 * @method static void assertPublished(string $topic, mixed $payload = null)
 * @method static void assertPublishedTimes(string $topic, int $times = 1, mixed $payload = null)
 * @method static void assertNotPublished(string $topic, mixed $payload = null)
 * @method static void assertNothingPublished()
 * @method static void assertPublishedOn(string $connection, string $topic, mixed $payload = null)
 *
 * @see \MqttBroadcast\Laravel\MqttBroadcast
 * @see \MqttBroadcast\Laravel\Testing\MqttBroadcastFake
 */
class MqttBroadcast extends Facade
{
    /**
     * Records publishes instead of sending them, for an application's tests;
     * works without the mqtt_broadcast extension.
     */
    public static function fake(): MqttBroadcastFake
    {
        static::swap($fake = static::$app->make(MqttBroadcastFake::class));
        return $fake;
    }

    protected static function getFacadeAccessor(): string
    {
        return \MqttBroadcast\Laravel\MqttBroadcast::class;
    }
}
