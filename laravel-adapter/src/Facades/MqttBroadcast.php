<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Facades;

use Illuminate\Support\Facades\Facade;

/**
 * @method static void publish(string $topic, mixed $message, string $broker = 'default', ?int $qos = null, ?bool $retain = null, ?bool $queued = null, ?array $properties = null)
 * @method static void publishSync(string $topic, mixed $message, string $broker = 'default', ?int $qos = null, ?bool $retain = null, ?float $timeout = null, ?array $properties = null)
 * @method static \Mqtt\Client connection(string $broker = 'default')
 * @method static string getTopic(string $topic, string $broker = 'default')
 * @method static void received(string $topic, string $message, string $broker = 'default')
 *
 * @see \MqttBroadcast\Laravel\MqttBroadcast
 */
class MqttBroadcast extends Facade
{
    protected static function getFacadeAccessor(): string
    {
        return \MqttBroadcast\Laravel\MqttBroadcast::class;
    }
}
