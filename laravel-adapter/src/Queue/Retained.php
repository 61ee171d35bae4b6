<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use Mqtt\Client;
use Mqtt\Subscriber;

/**
 * Reads retained messages as the broker has them now. The broker sends the
 * retained messages of a subscription before anything published after it
 * was made: a probe published on the same topic marks the end of them.
 */
final class Retained
{
    private const TIMEOUT = 5.0;

    /** The retained payload of $topic, null when it has none. */
    public static function read(Client $client, string $topic): ?string
    {
        return self::readAll($client, $topic, $topic)[$topic] ?? null;
    }

    /**
     * The retained payloads below $filter, by topic; $probeTopic matches $filter.
     *
     * @return array<string, string>
     */
    public static function readAll(Client $client, string $filter, string $probeTopic): array
    {
        $probe = 'probe-' . bin2hex(random_bytes(8));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($filter, 1);
        $client->publishSync($probeTopic, $probe, 1);
        $retained = [];
        $deadline = microtime(true) + self::TIMEOUT;
        while (($left = $deadline - microtime(true)) > 0) {
            $message = $subscriber->next($left);
            if ($message === null) {
                break;
            }
            if ($message->payload === $probe) {
                $subscriber->next(0.0);
                return $retained;
            }
            if ($message->retain && $message->payload !== '') {
                $retained[$message->topic] = $message->payload;
            }
        }
        throw new \RuntimeException("mqtt queue: the broker did not return the retained messages of $filter within " . self::TIMEOUT . 's');
    }
}
