<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/**
 * `mqtt-broadcast.rate_limiting`: what happens to a publish over a connection's
 * `rate_limiting` limits (max_per_minute, max_per_second), counted in Laravel's cache.
 */
final class RateLimitingConfig
{
    /** The publish throws RateLimitExceededException. */
    public const REJECT = 'reject';
    /** The publish waits: publish() through a delayed MqttMessageJob, publishSync() in place, the job released back to the queue. */
    public const THROTTLE = 'throttle';

    public function __construct(
        public readonly bool $enabled,
        public readonly string $strategy,
        /** count per connection; false: one count for all connections */
        public readonly bool $byConnection,
        /** cache store of the counters; null is the application's default */
        public readonly ?string $cacheStore,
    ) {
    }

    public static function read(Section $section): self
    {
        $strategy = $section->string('strategy', self::REJECT);
        if (!in_array($strategy, [self::REJECT, self::THROTTLE], true)) {
            throw InvalidConfigException::invalidValue($section->key('strategy'), 'must be "reject" or "throttle"', $strategy);
        }
        return new self(
            enabled: $section->bool('enabled', true),
            strategy: $strategy,
            byConnection: $section->bool('by_connection', true),
            cacheStore: $section->nonEmptyString('cache_driver', null),
        );
    }
}
