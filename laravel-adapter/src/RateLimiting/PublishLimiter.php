<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\RateLimiting;

use Illuminate\Cache\RateLimiter;
use MqttBroadcast\Laravel\Config\ConnectionConfig;
use MqttBroadcast\Laravel\Config\RateLimitingConfig;
use MqttBroadcast\Laravel\Exceptions\RateLimitExceededException;

/**
 * A connection's `rate_limiting` (max_per_second, max_per_minute), counted in
 * Laravel's cache so that every process of the application shares the count.
 * A message counts once, when it is handed to the extension.
 */
final class PublishLimiter
{
    public function __construct(private readonly RateLimitingConfig $config, private readonly RateLimiter $limiter)
    {
    }

    public function strategy(): string
    {
        return $this->config->strategy;
    }

    /** Seconds until $connection may publish again; 0: now. */
    public function availableIn(ConnectionConfig $connection): int
    {
        $wait = 0;
        foreach ($this->windows($connection) as [$key, $max]) {
            if ($this->limiter->tooManyAttempts($key, $max)) {
                // The cache counts whole seconds: a window about to end still waits one.
                $wait = max($wait, $this->limiter->availableIn($key), 1);
            }
        }
        return $wait;
    }

    public function hit(ConnectionConfig $connection): void
    {
        foreach ($this->windows($connection) as [$key, , $seconds]) {
            $this->limiter->hit($key, $seconds);
        }
    }

    public function exceeded(ConnectionConfig $connection): RateLimitExceededException
    {
        foreach ($this->windows($connection) as [$key, $max, , $window]) {
            if ($this->limiter->tooManyAttempts($key, $max)) {
                return new RateLimitExceededException($connection->name, $max, $window, $this->availableIn($connection));
            }
        }
        throw new \LogicException("connection {$connection->name} is within its rate limits");
    }

    /** @return list<array{string, int, int, string}> key, limit, seconds and name of each limited window */
    private function windows(ConnectionConfig $connection): array
    {
        if (!$this->config->enabled) {
            return [];
        }
        $counter = 'mqtt-broadcast:rate-limit:' . ($this->config->byConnection ? $connection->name : '*');
        $windows = [];
        foreach (['max_per_second' => [1, 'second'], 'max_per_minute' => [60, 'minute']] as $limit => [$seconds, $window]) {
            if ($connection->rateLimits[$limit] !== null) {
                $windows[] = ["$counter:$window", $connection->rateLimits[$limit], $seconds, $window];
            }
        }
        return $windows;
    }
}
