<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Notifications;

use Illuminate\Contracts\Container\Container;
use Illuminate\Notifications\Notification;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * The "mqtt" notification channel: publishes what the notification's
 * toMqtt($notifiable) returns (an MqttMessage, or the payload itself) on the
 * notifiable's topic (routeNotificationForMqtt()) or the message's own.
 */
class MqttChannel
{
    public function __construct(private readonly Container $container)
    {
    }

    public function send(object $notifiable, Notification $notification): void
    {
        $message = $notification->toMqtt($notifiable);
        if (!$message instanceof MqttMessage) {
            $message = new MqttMessage($message);
        }
        $topic = $message->topic ?? $notifiable->routeNotificationFor('mqtt', $notification);
        // As the mail channel does for a notifiable without an address.
        if ($topic === null || $topic === '') {
            return;
        }
        // Resolved per notification, so that MqttBroadcast::fake() records notifications too.
        $this->container->make(MqttBroadcast::class)->publish($topic, $message->payload, $message->connection, $message->qos, $message->retain, queued: false);
    }
}
