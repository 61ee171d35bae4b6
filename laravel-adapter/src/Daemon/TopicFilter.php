<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Daemon;

/** MQTT topic filter matching (MQTT 3.1.1, section 4.7), for routing received messages. */
final class TopicFilter
{
    public static function matches(string $filter, string $topic): bool
    {
        if (str_starts_with($filter, '$share/')) {
            $filter = explode('/', $filter, 3)[2] ?? '';
        }
        $filterLevels = explode('/', $filter);
        $topicLevels = explode('/', $topic);
        // Wildcards at the first level do not match topics starting with "$" ($SYS/...).
        if (str_starts_with($topic, '$') && in_array($filterLevels[0], ['+', '#'], true)) {
            return false;
        }
        foreach ($filterLevels as $index => $level) {
            if ($level === '#') {
                return true;
            }
            if (!array_key_exists($index, $topicLevels) || ($level !== '+' && $level !== $topicLevels[$index])) {
                return false;
            }
        }
        return count($filterLevels) === count($topicLevels);
    }

    /** @param list<string> $filters */
    public static function matchesAny(array $filters, string $topic): bool
    {
        foreach ($filters as $filter) {
            if (self::matches($filter, $topic)) {
                return true;
            }
        }
        return false;
    }
}
