<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

/**
 * `mqtt-broadcast.broker`: the options of the extension's built-in broker
 * (Mqtt\Broker), which `php artisan mqtt-broadcast:broker` runs. The extension
 * checks them and names a bad one; this class leaves out what is not set and
 * tells the connections where the broker listens.
 */
final class BrokerConfig
{
    /** The options of Mqtt\Broker. */
    public const KEYS = [
        'listen', 'tls', 'users', 'password_file', 'allow_anonymous', 'acl', 'persistence',
        'max_connections', 'max_packet_size', 'max_inflight_messages', 'max_queued_messages', 'log',
    ];

    /** Mqtt\Broker's own default. */
    private const DEFAULT_LISTEN = '127.0.0.1:1883';

    /** @param array<string, mixed> $options */
    private function __construct(public readonly array $options)
    {
    }

    public static function read(Section $broker): self
    {
        $options = [];
        foreach (self::KEYS as $key) {
            $value = $broker->raw($key);
            if (is_array($value) && $key !== 'acl' && $key !== 'users') {
                $value = array_filter($value, static fn ($option) => $option !== null);
            }
            // A TLS listener is there once its address is given; users once one is named.
            if ($value === null || $value === [] || ($key === 'tls' && !isset($value['listen']))) {
                continue;
            }
            $options[$key] = $value;
        }
        return new self($options);
    }

    /**
     * Where a client on this host reaches the plain listener: its address, a
     * wildcard one (0.0.0.0, [::]) as loopback; null when it listens on TLS only.
     *
     * @return array{0: string, 1: int}|null host and port
     */
    public function clientAddress(): ?array
    {
        $listen = $this->options['listen'] ?? self::DEFAULT_LISTEN;
        if (!is_string($listen) || !preg_match('/^\[?(.*?)\]?:(\d+)$/', $listen, $match)) {
            return null;
        }
        $host = match ($match[1]) {
            '0.0.0.0', '' => '127.0.0.1',
            '::' => '::1',
            default => $match[1],
        };
        return [$host, (int) $match[2]];
    }
}
