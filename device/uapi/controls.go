package uapi

// Control classes and the control IDs camerad sets (v4l2-controls.h).
const (
	ctrlClassUser  uint32 = 0x00980000
	ctrlClassCodec uint32 = 0x00990000
	cidUserBase           = ctrlClassUser | 0x900
	cidCodecBase          = ctrlClassCodec | 0x900

	CIDBrightness = cidUserBase + 0
	CIDHFlip      = cidUserBase + 20
	CIDVFlip      = cidUserBase + 21

	CIDVideoGOPSize            = cidCodecBase + 203
	CIDVideoBitrateMode        = cidCodecBase + 206
	CIDVideoBitrate            = cidCodecBase + 207
	CIDVideoRepeatSeqHeader    = cidCodecBase + 226
	CIDVideoForceKeyFrame      = cidCodecBase + 229
	CIDVideoH264IPeriod        = cidCodecBase + 358
	CIDVideoH264Level          = cidCodecBase + 359
	CIDVideoH264Profile        = cidCodecBase + 363
	CIDVideoPrependSPSPPSToIDR = cidCodecBase + 644

	// CtrlFlagNextCtrl asks QUERYCTRL for the next control after ID.
	CtrlFlagNextCtrl uint32 = 0x80000000
	// CtrlFlagDisabled marks a control that is not available.
	CtrlFlagDisabled uint32 = 0x0001
	// CtrlFlagReadOnly marks a control that can be read but not set (S_CTRL: EACCES).
	CtrlFlagReadOnly uint32 = 0x0004
	// CtrlFlagWriteOnly marks a control that can be set but not read (G_CTRL: EACCES).
	CtrlFlagWriteOnly uint32 = 0x0040
)

// Control types (enum v4l2_ctrl_type), as VIDIOC_QUERYCTRL reports them.
const (
	CtrlTypeInteger     uint32 = 1
	CtrlTypeBoolean     uint32 = 2
	CtrlTypeMenu        uint32 = 3
	CtrlTypeButton      uint32 = 4
	CtrlTypeInteger64   uint32 = 5
	CtrlTypeClass       uint32 = 6 // a pseudo-control naming a class of controls
	CtrlTypeString      uint32 = 7
	CtrlTypeBitmask     uint32 = 8
	CtrlTypeIntegerMenu uint32 = 9
	// CtrlTypeCompound is the first of the compound types (arrays and structures: U8,
	// U16, U32, AREA, the codecs' parameter sets...).
	CtrlTypeCompound uint32 = 0x0100
)

// Values of the H.264 profile menu (enum v4l2_mpeg_video_h264_profile).
const (
	H264ProfileBaseline            int32 = 0
	H264ProfileConstrainedBaseline int32 = 1
	H264ProfileMain                int32 = 2
	H264ProfileHigh                int32 = 4
)

// H264Level maps a level_idc (e.g. 40 for level 4.0) to the V4L2 menu value
// (enum v4l2_mpeg_video_h264_level); ok is false for a level V4L2 does not list.
func H264Level(levelIDC int) (v int32, ok bool) {
	levels := [...]int{10, 0 /* 1b */, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52, 60, 61, 62}
	for i, l := range levels {
		if l == levelIDC && l != 0 {
			return int32(i), true
		}
	}
	return 0, false
}

// Bitrate modes (enum v4l2_mpeg_video_bitrate_mode).
const (
	BitrateModeVBR int32 = 0
	BitrateModeCBR int32 = 1
)
