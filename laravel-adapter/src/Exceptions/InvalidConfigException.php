<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Exceptions;

/**
 * The mqtt-broadcast config holds a key or value this package cannot use. The
 * message always names the config key (`mqtt-broadcast.connections.default.port`).
 */
final class InvalidConfigException extends \InvalidArgumentException implements MqttBroadcastException
{
    public static function invalidValue(string $key, string $rule, mixed $value): self
    {
        return new self(sprintf('Invalid config value of "%s": %s, got %s.', $key, $rule, self::describe($key, $value)));
    }

    public static function unknownKey(string $key, ?string $suggestion): self
    {
        return new self(sprintf(
            'Unknown config key "%s"%s.',
            $key,
            $suggestion === null ? '' : sprintf(' (did you mean "%s"?)', $suggestion)
        ));
    }

    public static function because(string $key, string $reason, ?\Throwable $previous = null): self
    {
        return new self(sprintf('Invalid config "%s": %s', $key, $reason), 0, $previous);
    }

    private static function describe(string $key, mixed $value): string
    {
        if (str_ends_with($key, '.password')) {
            return 'a ' . get_debug_type($value);
        }
        return match (true) {
            is_string($value) => '"' . (strlen($value) > 60 ? substr($value, 0, 57) . '...' : $value) . '"',
            is_bool($value) => $value ? 'true' : 'false',
            is_int($value), is_float($value) => (string) $value,
            is_null($value) => 'null',
            default => get_debug_type($value),
        };
    }
}
