<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Concerns;

/**
 * Laravel's queues put serialize()d jobs into a JSON payload, and json_encode()
 * fails on the bytes of a payload that is not UTF-8. Serialized, such a
 * `message`, and such MQTT 5 `correlation_data` in `properties`, travel
 * base64-encoded and come back byte for byte.
 */
trait SerializesBinaryMessage
{
    /** @return array<string, mixed> */
    public function __serialize(): array
    {
        $data = get_object_vars($this);
        if (!mb_check_encoding($this->message, 'UTF-8')) {
            $data['message'] = base64_encode($this->message);
            $data['messageIsBase64'] = true;
        }
        $correlation = $data['properties']['correlation_data'] ?? null;
        if (is_string($correlation) && !mb_check_encoding($correlation, 'UTF-8')) {
            $data['properties']['correlation_data'] = base64_encode($correlation);
            $data['correlationDataIsBase64'] = true;
        }
        return $data;
    }

    /** @param array<string, mixed> $data */
    public function __unserialize(array $data): void
    {
        if ($data['messageIsBase64'] ?? false) {
            $data['message'] = base64_decode($data['message'], true);
        }
        if ($data['correlationDataIsBase64'] ?? false) {
            $data['properties']['correlation_data'] = base64_decode($data['properties']['correlation_data'], true);
        }
        unset($data['messageIsBase64'], $data['correlationDataIsBase64']);
        foreach ($data as $property => $value) {
            $this->{$property} = $value;
        }
    }
}
