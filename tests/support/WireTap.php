<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * Sits between our connection and the real broker (wire-tap.php, run with
 * php -n) and reads back the MQTT 5 packets each side sent, decoded where a
 * test needs it: what a broker's log or a subscriber cannot show, such as the
 * topic aliases of publishes and the properties of a DISCONNECT.
 *
 * Connect through it with ['host' => '127.0.0.1', 'port' => $tap->port()].
 */
final class WireTap
{
    private const SCRIPT = __DIR__ . '/wire-tap.php';
    private const PUBLISH = 3;
    private const DISCONNECT = 14;

    /** MQTT 5 property identifiers and how their values are written (section 2.2.2.2). */
    private const PROPERTIES = [
        0x01 => ['payload_format_indicator', 'byte'], 0x02 => ['message_expiry_interval', 'int32'],
        0x03 => ['content_type', 'string'], 0x08 => ['response_topic', 'string'],
        0x09 => ['correlation_data', 'binary'], 0x0B => ['subscription_identifier', 'varint'],
        0x11 => ['session_expiry_interval', 'int32'], 0x1C => ['server_reference', 'string'],
        0x1F => ['reason_string', 'string'], 0x23 => ['topic_alias', 'int16'],
        0x26 => ['user_property', 'pair'],
    ];

    private BackgroundProcess $process;
    private string $packetsFile;
    private string $outputFile;
    private int $port;

    private function __construct(Broker $broker)
    {
        $this->packetsFile = $broker->dir() . '/wire-' . bin2hex(random_bytes(5));
        $this->outputFile = $this->packetsFile . '.out';
        touch($this->packetsFile);
        $this->process = new BackgroundProcess(
            [PHP_BINARY, '-n', self::SCRIPT, $broker->host(), (string) $broker->port(), $this->packetsFile],
            $this->outputFile,
            $this->outputFile
        );
        $deadline = microtime(true) + 10.0;
        while (!preg_match('/^listening (\d+)$/m', (string) @file_get_contents($this->outputFile), $match)) {
            if (microtime(true) > $deadline || !$this->process->isRunning()) {
                Failure::raise('the wire tap did not start: ' . @file_get_contents($this->outputFile));
            }
            usleep(10_000);
        }
        $this->port = (int) $match[1];
    }

    public static function start(Broker $broker): self
    {
        return new self($broker);
    }

    public function port(): int
    {
        return $this->port;
    }

    /**
     * The PUBLISH packets our side sent, in order, decoded as MQTT 5.
     *
     * @return list<array{topic: string, payload: string, qos: int, properties: array<string, mixed>}>
     */
    public function publishesFromClient(): array
    {
        $publishes = [];
        foreach ($this->packets('client', self::PUBLISH) as [$flags, $body]) {
            $topicLength = unpack('n', $body)[1];
            $topic = substr($body, 2, $topicLength);
            $at = 2 + $topicLength;
            $qos = ($flags >> 1) & 3;
            if ($qos > 0) {
                $at += 2;
            }
            $properties = self::properties($body, $at);
            $publishes[] = ['topic' => $topic, 'payload' => (string) substr($body, $at), 'qos' => $qos, 'properties' => $properties];
        }
        return $publishes;
    }

    /**
     * The DISCONNECT packets our side sent, decoded as MQTT 5: a reason code
     * of 0 and no properties when the packet has no body.
     *
     * @return list<array{reason_code: int, properties: array<string, mixed>}>
     */
    public function disconnectsFromClient(): array
    {
        $disconnects = [];
        foreach ($this->packets('client', self::DISCONNECT) as [, $body]) {
            $at = 1;
            $disconnects[] = [
                'reason_code' => $body === '' ? 0 : ord($body[0]),
                'properties' => strlen($body) > 1 ? self::properties($body, $at) : [],
            ];
        }
        return $disconnects;
    }

    /** @return list<array{0: int, 1: string}> flags and body of each packet of that type from that side */
    private function packets(string $from, int $type): array
    {
        $packets = [];
        foreach (file($this->packetsFile, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) ?: [] as $line) {
            $packet = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
            if ($packet['from'] === $from && $packet['type'] === $type) {
                $packets[] = [$packet['flags'], base64_decode($packet['body'], true)];
            }
        }
        return $packets;
    }

    /** Reads a property list starting at $at, and moves $at past it. */
    private static function properties(string $body, int &$at): array
    {
        $end = self::varint($body, $at);
        $end += $at;
        $properties = [];
        while ($at < $end) {
            $id = ord($body[$at++]);
            if (!isset(self::PROPERTIES[$id])) {
                Failure::raise(sprintf('unknown MQTT 5 property 0x%02X', $id));
            }
            [$name, $kind] = self::PROPERTIES[$id];
            $value = match ($kind) {
                'byte' => ord($body[$at++]),
                'int16' => unpack('n', $body, ($at += 2) - 2)[1],
                'int32' => unpack('N', $body, ($at += 4) - 4)[1],
                'varint' => self::varint($body, $at),
                'string', 'binary' => self::text($body, $at),
                'pair' => [self::text($body, $at), self::text($body, $at)],
            };
            if ($kind === 'pair') {
                $properties['user_properties'][] = $value;
            } else {
                $properties[$name] = $value;
            }
        }
        return $properties;
    }

    private static function varint(string $body, int &$at): int
    {
        $value = 0;
        $shift = 0;
        do {
            $byte = ord($body[$at++]);
            $value |= ($byte & 0x7F) << $shift;
            $shift += 7;
        } while ($byte & 0x80);
        return $value;
    }

    private static function text(string $body, int &$at): string
    {
        $length = unpack('n', $body, $at)[1];
        $text = substr($body, $at + 2, $length);
        $at += 2 + $length;
        return $text;
    }

    public function __destruct()
    {
        $this->process->kill();
        @unlink($this->packetsFile);
        @unlink($this->outputFile);
    }
}
