<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * An independent MQTT 5 subscriber: mosquitto_sub -V mqttv5 in the background,
 * printing every message with its MQTT 5 properties, so tests see what the
 * broker delivers to a client that shares no code with the extension.
 *
 * mosquitto_sub prints each message as one record (-N -F): "ESC [ ESC", then
 * topic, payload as hex, QoS, retain flag, user properties (%P), content type
 * (%C), correlation data (%D, raw bytes), message expiry interval (%E) and
 * response topic (%R), each followed by ESC, then "] ESC" and a newline. The
 * properties come out as mosquitto_sub prints them, with what that implies:
 *
 * - %P is every user property as "name:value", separated by single spaces, in
 *   the order of the packet: compare it with printedUserProperties() of the
 *   pairs expected (names and values with spaces or colons make it ambiguous
 *   to parse, not to compare); mosquitto_sub 2.1 prints an empty value as
 *   "(null)", 2.0 as nothing;
 * - a property that is absent and one that is empty both print nothing: they
 *   are both null here;
 * - %E is what the broker forwards: the seconds left of the expiry interval;
 * - property values must not contain ESC (0x1b), the field separator: a record
 *   that does not split into its fields fails the test.
 */
final class Mqtt5Listener extends MosquittoSubscriber
{
    /** mosquitto_sub's own escapes: \e is ESC. */
    private const FORMAT = '\e[\e%t\e%x\e%q\e%r\e%P\e%C\e%D\e%E\e%R\e]\e\n';
    private const RECORD_START = "\e[\e";
    private const RECORD_END = "\e]\e\n";
    private const FIELDS = 9;

    public static function start(Broker $broker, string $filter, int $qos = 1): self
    {
        return new self($broker, $filter, 'listener5-' . bin2hex(random_bytes(5)), ['-V', 'mqttv5', '-q', (string) $qos, '-N', '-F', self::FORMAT]);
    }

    /** "name:value" pairs joined by spaces: how this mosquitto_sub's %P prints these user properties. */
    public static function printedUserProperties(array $pairs): string
    {
        $empty = version_compare(self::mosquittoSubVersion(), '2.1', '>=') ? '(null)' : '';
        return implode(' ', array_map(static fn (array $pair): string => $pair[0] . ':' . ($pair[1] === '' ? $empty : $pair[1]), $pairs));
    }

    /** The version mosquitto_sub --help names ("mosquitto_sub version 2.1.2 running on ..."). */
    private static function mosquittoSubVersion(): string
    {
        static $version = null;
        if ($version === null) {
            $help = (string) shell_exec('mosquitto_sub --help 2>&1');
            if (!preg_match('/mosquitto_sub version (\d+\.\d+(?:\.\d+)?)/', $help, $match)) {
                Failure::raise("mosquitto_sub --help names no version:\n$help");
            }
            $version = $match[1];
        }
        return $version;
    }

    /**
     * Every message received so far (probes excluded), in arrival order.
     *
     * @return list<array{topic:string,payload:string,qos:int,retain:bool,user_properties:string,content_type:?string,correlation_data:?string,message_expiry_interval:?int,response_topic:?string}>
     */
    public function messages(): array
    {
        return parent::messages();
    }

    /** The message with this payload; fails unless exactly one arrived (a QoS 1 duplicate counts once). */
    public function messageWithPayload(string $payload): array
    {
        $found = array_values(array_unique(
            array_filter($this->messages(), static fn (array $m): bool => $m['payload'] === $payload),
            SORT_REGULAR
        ));
        if (count($found) !== 1) {
            Failure::raise(sprintf('mosquitto_sub -V 5 on "%s": %d different messages with payload %s%s', $this->filter, count($found), var_export($payload, true), $this->describeTail()));
        }
        return $found[0];
    }

    /** Complete records only. */
    protected function parse(string $chunk): int
    {
        $offset = 0;
        while ($offset < strlen($chunk)) {
            if (strncmp(substr($chunk, $offset), self::RECORD_START, min(strlen(self::RECORD_START), strlen($chunk) - $offset)) !== 0) {
                Failure::raise('mosquitto_sub -V 5 output does not start a record here: ' . var_export(substr($chunk, $offset, 200), true));
            }
            $end = strpos($chunk, self::RECORD_END, $offset);
            if ($end === false) {
                break;
            }
            $this->record(substr($chunk, $offset + strlen(self::RECORD_START), $end - $offset - strlen(self::RECORD_START)));
            $offset = $end + strlen(self::RECORD_END);
        }
        return $offset;
    }

    private function record(string $record): void
    {
        // Fields are separated by ESC (the one after the last is part of RECORD_END).
        $fields = explode("\e", $record);
        $payload = count($fields) === self::FIELDS ? hex2bin($fields[1]) : false;
        if ($payload === false) {
            Failure::raise('unparsable mosquitto_sub -V 5 record (does a value contain ESC?): ' . var_export($record, true));
        }
        [$topic, , $qos, $retain, $userProperties, $contentType, $correlationData, $expiry, $responseTopic] = $fields;
        $this->received($topic, $payload, [
            'topic' => $topic,
            'payload' => $payload,
            'qos' => (int) $qos,
            'retain' => $retain === '1',
            'user_properties' => $userProperties,
            'content_type' => $contentType === '' ? null : $contentType,
            'correlation_data' => $correlationData === '' ? null : $correlationData,
            'message_expiry_interval' => $expiry === '' ? null : (int) $expiry,
            'response_topic' => $responseTopic === '' ? null : $responseTopic,
        ]);
    }
}
