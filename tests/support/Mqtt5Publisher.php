<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * An independent MQTT 5 publisher: mosquitto_pub -V mqttv5, its properties set
 * with -D publish. Takes the properties in the shape Mqtt\Client::publish()
 * does, so a test can send the same message from both implementations.
 *
 * Everything but the payload travels on the command line, which cannot carry
 * NUL bytes: properties with NUL (binary correlation data) are refused here.
 */
final class Mqtt5Publisher
{
    /** Property name in the extension's API => mosquitto_pub's -D publish name. */
    private const NAMES = [
        'content_type' => 'content-type',
        'message_expiry_interval' => 'message-expiry-interval',
        'response_topic' => 'response-topic',
        'correlation_data' => 'correlation-data',
    ];

    /**
     * @param array{
     *     user_properties?: array<string,string>|list<array{0:string,1:string}>,
     *     content_type?: string,
     *     message_expiry_interval?: int,
     *     response_topic?: string,
     *     correlation_data?: string,
     * } $properties
     */
    public static function publish(Broker $broker, string $topic, string $payload, array $properties = [], int $qos = 1, bool $retain = false): void
    {
        $payloadFile = $broker->dir() . '/pub5-' . bin2hex(random_bytes(4));
        file_put_contents($payloadFile, $payload);
        $command = ['mosquitto_pub', '-V', 'mqttv5', '-h', $broker->host(), '-p', (string) $broker->port(),
            '-q', (string) $qos, '-t', $topic, '-f', $payloadFile];
        if ($retain) {
            $command[] = '-r';
        }
        foreach (self::arguments($properties) as $argument) {
            $command[] = $argument;
        }
        $out = $payloadFile . '.out';
        $process = new BackgroundProcess($command, $out, $out);
        $finished = $process->wait(10.0);
        $code = $process->exitCode();
        $process->kill();
        $output = (string) @file_get_contents($out);
        @unlink($payloadFile);
        @unlink($out);
        // Callers check what arrived.
        if (!$finished || !$process->succeeded()) {
            Failure::raise("mosquitto_pub -V 5 to $topic failed (exit " . var_export($code, true) . "): $output\nbroker log:\n" . Failure::tail($broker->log(), 20));
        }
    }

    /** @return list<string> the -D publish arguments for these properties */
    private static function arguments(array $properties): array
    {
        $arguments = [];
        foreach ($properties as $key => $value) {
            if ($key === 'user_properties') {
                $pairs = array_is_list($value) ? $value : array_map(null, array_keys($value), array_values($value));
                foreach ($pairs as [$name, $text]) {
                    array_push($arguments, '-D', 'publish', 'user-property', self::text((string) $name), self::text((string) $text));
                }
            } elseif (isset(self::NAMES[$key])) {
                array_push($arguments, '-D', 'publish', self::NAMES[$key], self::text((string) $value));
            } else {
                throw new \InvalidArgumentException("Mqtt5Publisher does not know the property \"$key\"");
            }
        }
        return $arguments;
    }

    private static function text(string $value): string
    {
        if (str_contains($value, "\0")) {
            throw new \InvalidArgumentException('a command line argument cannot carry NUL bytes: ' . var_export($value, true));
        }
        return $value;
    }
}
