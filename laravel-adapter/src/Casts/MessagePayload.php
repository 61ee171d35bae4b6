<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Casts;

use Illuminate\Contracts\Database\Eloquent\CastsAttributes;

/**
 * MqttLogger::$message: read as JSON, as the pure-PHP package's `json` cast
 * read it (an object comes back as an array, "25.5" as a float), and as the
 * string it is when it is not JSON, where the plain `json` cast would give
 * null. The column keeps the payload as it went over the wire
 * (getRawOriginal('message')); written, a string is stored as it is and
 * anything else JSON-encoded, as publish() sends it.
 */
final class MessagePayload implements CastsAttributes
{
    public function get($model, string $key, $value, array $attributes): mixed
    {
        if (!is_string($value)) {
            return $value;
        }
        try {
            return json_decode($value, true, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException) {
            return $value;
        }
    }

    public function set($model, string $key, $value, array $attributes): ?string
    {
        return $value === null || is_string($value) ? $value : json_encode($value, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
    }
}
