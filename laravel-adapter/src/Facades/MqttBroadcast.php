<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Facades;

use Closure;
use Illuminate\Support\Facades\Facade;
use MqttBroadcast\Laravel\Routing\Route;
use MqttBroadcast\Laravel\Routing\Router;
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

    /**
     * A route of routes/mqtt.php: the daemon calls the closure or invokable
     * class, or dispatches the job class, for every message whose topic
     * matches the pattern ('metrics/{tenant}/{agent}/{metric}', a last '{rest*}').
     * Declared here rather than on the root, so that declaring routes
     * neither reads the config nor is recorded by fake().
     *
     * @param Closure|class-string $action
     */
    public static function route(string $pattern, Closure|string $action): Route
    {
        return static::$app->make(Router::class)->route($pattern, $action);
    }

    /**
     * Routes with a common topic prefix and connection.
     *
     * @param array{prefix?: string, connection?: string} $attributes
     */
    public static function group(array $attributes, Closure $routes): void
    {
        static::$app->make(Router::class)->group($attributes, $routes);
    }

    /** Messages of this filter that match no route are rejected (MqttMessageRejected, "matches no route"). */
    public static function fallback(string $filter): void
    {
        static::$app->make(Router::class)->fallback($filter);
    }

    protected static function getFacadeAccessor(): string
    {
        return \MqttBroadcast\Laravel\MqttBroadcast::class;
    }
}
