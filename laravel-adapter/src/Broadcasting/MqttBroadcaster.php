<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Broadcasting;

use Illuminate\Broadcasting\BroadcastException;
use Illuminate\Broadcasting\Broadcasters\Broadcaster;
use Illuminate\Contracts\Container\Container;
use Illuminate\Support\Arr;
use Mqtt\MqttException;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * The "mqtt" driver of config/broadcasting.php: a ShouldBroadcast event is
 * published on one topic per channel, with the body Laravel's other
 * broadcasters send. Channel "orders.42" is topic "orders/42", a private
 * channel "private/orders/42", a presence channel "presence/orders/42", all
 * below topic_prefix and the connection's prefix.
 *
 * There is no authorisation endpoint: MQTT clients subscribe at the broker,
 * so who may read a channel's topic is the broker's ACL, not routes/channels.php.
 */
class MqttBroadcaster extends Broadcaster
{
    /**
     * @param array{connection?: string, qos?: int|null, retain?: bool|null, topic_prefix?: string} $config
     *        the connection's entry in config/broadcasting.php
     */
    public function __construct(private readonly Container $container, private readonly array $config)
    {
    }

    /** Nothing to authorise here: the broker's ACL decides who subscribes to a channel's topic. */
    public function auth($request)
    {
        return null;
    }

    public function validAuthenticationResponse($request, $result)
    {
        return null;
    }

    public function broadcast(array $channels, $event, array $payload = [])
    {
        $socket = Arr::pull($payload, 'socket');
        $body = json_encode(['event' => $event, 'data' => $payload, 'socket' => $socket], JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        // Resolved per broadcast, so that MqttBroadcast::fake() records broadcasts too.
        $mqtt = $this->container->make(MqttBroadcast::class);
        foreach ($this->formatChannels($channels) as $channel) {
            if (str_starts_with($channel, 'private-encrypted-')) {
                // Pusher's end-to-end encryption has no MQTT counterpart: refuse rather than send in clear.
                throw new BroadcastException("MQTT cannot broadcast on the encrypted channel \"$channel\": use a private channel, TLS and the broker's ACL.");
            }
            $topic = self::topic($channel, $this->config['topic_prefix'] ?? '');
            try {
                $mqtt->publish($topic, $body, $this->config['connection'] ?? 'default', $this->config['qos'] ?? null, $this->config['retain'] ?? null, queued: false);
            } catch (MqttException | \ValueError $e) {
                throw new BroadcastException(sprintf('MQTT broadcast of %s on channel "%s" (topic "%s") failed: %s', $event, $channel, $topic, $e->getMessage()), 0, $e);
            }
        }
    }

    /**
     * The topic of a channel: "private-orders.42" → "private/orders/42", dots
     * become levels, behind the prefix.
     */
    public static function topic(string $channel, string $prefix = ''): string
    {
        foreach (['private-' => 'private/', 'presence-' => 'presence/'] as $head => $level) {
            if (str_starts_with($channel, $head)) {
                $channel = $level . substr($channel, strlen($head));
                break;
            }
        }
        return $prefix . str_replace('.', '/', $channel);
    }
}
