<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/** `mqtt-broadcast.queue`: publishing through MqttMessageJob instead of directly. */
final class QueueConfig
{
    /**
     * @param list<int> $backoff seconds before each retry of the job
     */
    public function __construct(
        /** publish() dispatches MqttMessageJob instead of publishing itself */
        public readonly bool $enabled,
        /** queue name; null is the queue connection's default queue */
        public readonly ?string $name,
        /** queue connection; null is the application's default */
        public readonly ?string $connection,
        /** attempts of the job before it fails for good and goes to the failed-publish store */
        public readonly int $tries,
        public readonly array $backoff,
    ) {
    }

    public static function read(Section $queue): self
    {
        return new self(
            enabled: $queue->bool('enabled', false),
            name: $queue->nonEmptyString('name', null),
            connection: $queue->nonEmptyString('connection', null),
            tries: $queue->int('tries', 3, 1, PHP_INT_MAX),
            backoff: self::backoff($queue),
        );
    }

    /** @return list<int> */
    private static function backoff(Section $queue): array
    {
        $value = $queue->raw('backoff') ?? [1, 5, 10];
        // From env(): "10" or "1,5,10".
        if (is_string($value)) {
            $value = array_map('trim', explode(',', $value));
        }
        $seconds = [];
        foreach (is_array($value) && array_is_list($value) ? $value : [$value] as $item) {
            $int = filter_var($item, FILTER_VALIDATE_INT);
            if (is_bool($item) || $int === false || $int < 0) {
                throw InvalidConfigException::invalidValue($queue->key('backoff'), 'must be seconds: an integer of at least 0, or a list of them', $queue->raw('backoff'));
            }
            $seconds[] = $int;
        }
        return $seconds;
    }
}
