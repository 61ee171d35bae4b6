<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use MqttBroadcast\Laravel\Exceptions\MqttBroadcastException;

/** Reported when a queue topic carries a message that is not a job (another publisher on the topic). */
final class RejectedJobMessage extends \RuntimeException implements MqttBroadcastException
{
}
