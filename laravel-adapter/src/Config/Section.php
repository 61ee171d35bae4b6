<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/**
 * One array of the config file, read with the types this package needs. Values
 * come from env() as often as not, so numbers may be numeric strings and
 * booleans "true"/"false"/"1"/"0"/""; null means "not set" everywhere, the way
 * `'qos' => env('MQTT_QOS')` is meant. Every error names the full config key.
 */
final class Section
{
    /**
     * @param array<array-key, mixed> $values
     * @param string $path config key of this array, e.g. "mqtt-broadcast.connections.default"
     */
    private function __construct(private readonly array $values, public readonly string $path)
    {
    }

    /**
     * @param list<string> $known keys this package reads
     * @param list<string> $ignored keys the pure-PHP package of the same name reads and this one does not need
     */
    public static function of(mixed $values, string $path, array $known, array $ignored = []): self
    {
        if ($values === null) {
            $values = [];
        }
        if (!is_array($values)) {
            throw InvalidConfigException::invalidValue($path, 'must be an array', $values);
        }
        foreach (array_keys($values) as $key) {
            if (!in_array($key, $known, true) && !in_array($key, $ignored, true)) {
                throw InvalidConfigException::unknownKey("$path.$key", self::nearest((string) $key, $known));
            }
        }
        return new self($values, $path);
    }

    public function key(string $key): string
    {
        return "{$this->path}.$key";
    }

    public function has(string $key): bool
    {
        return ($this->values[$key] ?? null) !== null;
    }

    public function raw(string $key): mixed
    {
        return $this->values[$key] ?? null;
    }

    public function string(string $key, string $default): string
    {
        return $this->nullableString($key) ?? $default;
    }

    public function nullableString(string $key): ?string
    {
        $value = $this->raw($key);
        if ($value === null) {
            return null;
        }
        if (!is_string($value) && !is_int($value)) {
            throw InvalidConfigException::invalidValue($this->key($key), 'must be a string', $value);
        }
        return (string) $value;
    }

    public function nonEmptyString(string $key, ?string $default): ?string
    {
        $value = $this->nullableString($key) ?? $default;
        if ($value === '') {
            throw InvalidConfigException::invalidValue($this->key($key), 'must not be empty (leave it out or set it to null)', $value);
        }
        return $value;
    }

    public function bool(string $key, bool $default): bool
    {
        $value = $this->raw($key);
        if ($value === null) {
            return $default;
        }
        if (is_bool($value)) {
            return $value;
        }
        if ($value === 0 || $value === 1) {
            return $value === 1;
        }
        if (is_string($value)) {
            $parsed = match (strtolower(trim($value))) {
                'true', '1', 'on', 'yes' => true,
                'false', '0', 'off', 'no', '' => false,
                default => null,
            };
            if ($parsed !== null) {
                return $parsed;
            }
        }
        throw InvalidConfigException::invalidValue($this->key($key), 'must be a boolean (true/false)', $value);
    }

    public function int(string $key, int $default, int $min, int $max): int
    {
        $value = $this->raw($key);
        if ($value === null) {
            return $default;
        }
        $rule = "must be an integer between $min and $max";
        $int = filter_var(is_string($value) ? trim($value) : $value, FILTER_VALIDATE_INT);
        if (is_float($value) && floor($value) === $value && abs($value) < PHP_INT_MAX) {
            $int = (int) $value;
        }
        if (is_bool($value) || $int === false || $int < $min || $int > $max) {
            throw InvalidConfigException::invalidValue($this->key($key), $rule, $value);
        }
        return $int;
    }

    /** Seconds and the like: a non-negative number, or a positive one when $positive. */
    public function number(string $key, float $default, bool $positive): float
    {
        $value = $this->raw($key);
        if ($value === null) {
            return $default;
        }
        $rule = $positive ? 'must be a number greater than 0' : 'must be a number of at least 0';
        if (is_bool($value) || !is_numeric($value)) {
            throw InvalidConfigException::invalidValue($this->key($key), $rule, $value);
        }
        $number = (float) $value;
        if (!is_finite($number) || $number < 0 || ($positive && $number == 0.0)) {
            throw InvalidConfigException::invalidValue($this->key($key), $rule, $value);
        }
        return $number;
    }

    /** @return list<string> */
    public function stringList(string $key, array $default): array
    {
        $value = $this->raw($key);
        if ($value === null) {
            return $default;
        }
        if (is_string($value)) {
            $value = [$value];
        }
        if (!is_array($value) || !array_is_list($value)) {
            throw InvalidConfigException::invalidValue($this->key($key), 'must be a list of strings', $value);
        }
        foreach ($value as $index => $item) {
            if (!is_string($item) || $item === '') {
                throw InvalidConfigException::invalidValue($this->key("$key.$index"), 'must be a non-empty string', $item);
            }
        }
        return $value;
    }

    /** A nested array, read as a Section itself. */
    public function section(string $key, array $known, array $ignored = []): self
    {
        return self::of($this->raw($key), $this->key($key), $known, $ignored);
    }

    /** @return array<array-key, mixed> */
    public function array(string $key): array
    {
        $value = $this->raw($key);
        if ($value === null) {
            return [];
        }
        if (!is_array($value)) {
            throw InvalidConfigException::invalidValue($this->key($key), 'must be an array', $value);
        }
        return $value;
    }

    /** The first of $sections that sets $key (null counts as not set), else the first one. */
    public static function firstSetting(string $key, self ...$sections): self
    {
        foreach ($sections as $section) {
            if ($section->has($key)) {
                return $section;
            }
        }
        return $sections[0];
    }

    /** @param list<string> $candidates */
    private static function nearest(string $key, array $candidates): ?string
    {
        $best = null;
        $bestDistance = PHP_INT_MAX;
        foreach ($candidates as $candidate) {
            $distance = levenshtein(strtolower($key), strtolower($candidate));
            if ($distance < $bestDistance) {
                [$best, $bestDistance] = [$candidate, $distance];
            }
        }
        return $best !== null && $bestDistance <= max(2, intdiv(strlen($key), 3)) ? $best : null;
    }
}
