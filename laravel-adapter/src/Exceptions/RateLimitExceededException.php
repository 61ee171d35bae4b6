<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Exceptions;

/**
 * A publish over the connection's rate_limiting limit, with strategy "reject".
 * The getters are those of the pure-PHP package's exception of the same name.
 */
class RateLimitExceededException extends \RuntimeException
{
    public function __construct(
        private readonly string $connection,
        private readonly int $limit,
        private readonly string $window,
        private readonly int $retryAfter,
    ) {
        parent::__construct(sprintf(
            'Rate limit exceeded for connection "%s": %d messages per %s (mqtt-broadcast.connections.%s.rate_limiting). Retry after %d seconds.',
            $connection,
            $limit,
            $window,
            $connection,
            $retryAfter
        ));
    }

    public function getConnection(): string
    {
        return $this->connection;
    }

    public function getLimit(): int
    {
        return $this->limit;
    }

    public function getWindow(): string
    {
        return $this->window;
    }

    public function getRetryAfter(): int
    {
        return $this->retryAfter;
    }
}
